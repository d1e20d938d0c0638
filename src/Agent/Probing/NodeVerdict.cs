namespace RedisAgent.Probing;

/// <summary>The agent's settled view of its node, from consecutive port observations.</summary>
internal enum NodeVerdict
{
    /// <summary>Not enough observations yet.</summary>
    Unknown,

    /// <summary>Answers PING.</summary>
    Healthy,

    /// <summary>Alive but busy (loading, a long script, master down): must never be restarted.</summary>
    Busy,

    /// <summary>The process does not listen: it died, or never started.</summary>
    ProcessDown,

    /// <summary>Accepts connections but has not answered for longer than the hang threshold.</summary>
    Hung,

    /// <summary>The server answers but refuses the agent (bad password, ACL, protected mode): a configuration fault of the agent.</summary>
    Misconfigured,
}

/// <summary>A change of verdict, with the observation that settled it.</summary>
internal sealed record VerdictChange(NodeVerdict From, NodeVerdict To, DateTimeOffset At, PortProbeResult Evidence, int Observations);
