namespace RedisAgent.HostProbing;

/// <summary>What one SSH host probe saw.</summary>
internal enum HostProbeOutcome
{
    /// <summary>Logged in and the check command exited 0.</summary>
    Answered,

    /// <summary>Logged in; the check command exited non-zero (the host is alive, what it checks is not).</summary>
    CheckFailed,

    /// <summary>The host refused our key: alive, and the agent is misconfigured.</summary>
    AuthFailed,

    /// <summary>The host presented a key that is not the pinned or known one: the agent refuses to talk to it.</summary>
    HostKeyRejected,

    /// <summary>TCP reset: the host's kernel answered, sshd is not listening. The host is alive.</summary>
    Refused,

    /// <summary>Nothing came back within the timeout: the host may be gone.</summary>
    Timeout,

    /// <summary>The network says there is no way there (no route, host unreachable).</summary>
    Unreachable,

    /// <summary>Any other failure.</summary>
    Failed,
}

/// <summary>One observation of a host over SSH.</summary>
internal sealed record HostProbeResult(HostProbeOutcome Outcome, DateTimeOffset At, TimeSpan Latency, string? Detail = null)
{
    /// <summary>True when something on the host answered, whatever it said: evidence the host is alive.</summary>
    public bool HostAnswered => Outcome is HostProbeOutcome.Answered or HostProbeOutcome.CheckFailed
        or HostProbeOutcome.AuthFailed or HostProbeOutcome.HostKeyRejected or HostProbeOutcome.Refused;

    /// <summary>True when the fault is the agent's configuration (key, host key), not the host.</summary>
    public bool IsConfigurationFault => Outcome is HostProbeOutcome.AuthFailed or HostProbeOutcome.HostKeyRejected;
}
