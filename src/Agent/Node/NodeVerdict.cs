namespace RedisAgent.Node;

/// <summary>The agent's settled view of its node, from consecutive port observations.</summary>
internal enum NodeVerdict
{
    /// <summary>Not enough observations yet.</summary>
    Unknown,

    /// <summary>Answers PING.</summary>
    Healthy,

    /// <summary>Alive but busy (loading, a long script, master down): must never be restarted.</summary>
    Busy,

    /// <summary>The process does not listen: it died, or never started. The host answers.</summary>
    ProcessDown,

    /// <summary>Neither the Redis port nor the host (over SSH) answers: the host may be gone. Never a restart: a failover's business.</summary>
    HostUnreachable,

    /// <summary>Accepts connections but has not answered for longer than the hang threshold.</summary>
    Hung,

    /// <summary>The server answers but refuses the agent (bad password, ACL, protected mode): a configuration fault of the agent.</summary>
    Misconfigured,
}

/// <summary>A change of verdict, with the port observation (and the host one, when it settled it) behind it.</summary>
internal sealed record VerdictChange(
    NodeVerdict From,
    NodeVerdict To,
    DateTimeOffset At,
    PortProbeResult Evidence,
    int Observations,
    HostProbing.HostProbeResult? HostEvidence = null);
