namespace RedisAgent.Metrics;

/// <summary>The metrics log line. Section <c>Metrics</c>.</summary>
internal sealed class MetricsOptions
{
    public const string Section = "Metrics";

    /// <summary>How often a <c>source=REDIS ... sample#...</c> line goes into the log stream; zero turns it off.</summary>
    public TimeSpan LogInterval { get; set; } = TimeSpan.FromMinutes(1);
}
