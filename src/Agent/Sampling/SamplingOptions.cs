namespace RedisAgent.Sampling;

/// <summary>How often the agent reads INFO and CONFIG from its node. Section <c>Sampling</c>.</summary>
internal sealed class SamplingOptions
{
    public const string Section = "Sampling";

    /// <summary>Time between two samples.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The largest INFO reply parsed (a real one is a few KB); a larger one is refused and reported.</summary>
    public int MaxReplyBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>The name the sampler's connection gives itself (<c>CLIENT SETNAME</c>), so operators can tell it from their own clients.</summary>
    public string ClientName { get; set; } = "redis-agent";
}
