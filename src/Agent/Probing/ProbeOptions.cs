namespace RedisAgent.Probing;

/// <summary>How often and how patiently the agent probes its node's port. Section <c>Probe</c>.</summary>
internal sealed class ProbeOptions
{
    public const string Section = "Probe";

    /// <summary>Time between the starts of two probes while the verdict is settled.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Time between probes while a failure is being confirmed: after a failed probe the agent looks
    /// again sooner, so that several observations (one blip changes nothing) do not cost several
    /// whole intervals.
    /// </summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Connect + PING must finish within this; past it the port counts as silent (or hung, if it connected).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(1);
}
