namespace RedisAgent.Metrics;

/// <summary>The metrics log line. Section <c>Metrics</c>.</summary>
internal sealed class MetricsOptions
{
    public const string Section = "Metrics";

    /// <summary>How often a <c>source=REDIS ... sample#...</c> line goes into the log stream; zero turns it off.</summary>
    public TimeSpan LogInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The longest a rendering of <c>/metrics</c> is served before it is rebuilt (a new sample
    /// rebuilds it at once). The agent's own counters (probes, log lines) are at most this old;
    /// zero renders every scrape.
    /// </summary>
    public TimeSpan RenderInterval { get; set; } = TimeSpan.FromSeconds(1);
}
