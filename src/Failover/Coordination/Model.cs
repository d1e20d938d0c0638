using RedisFailover.Protos;

namespace RedisFailover.Coordination;

/// <summary>The states of one resource, as in docs/architecture.md.</summary>
internal enum ResourceState
{
    /// <summary>A primary serves and a standby follows it.</summary>
    Healthy,

    /// <summary>The primary's host is reported unreachable; the confirmation window is running.</summary>
    Confirming,

    /// <summary>A new standby is being rebuilt from the new primary; no failover until it is in sync.</summary>
    Rebuilding,

    /// <summary>No standby in sync: a failover is impossible until one is.</summary>
    Degraded,
}

/// <summary>The settings a resource keeps across restarts and failovers.</summary>
internal sealed record ResourceSettings(long? TimeoutSeconds, string? MaxMemoryPolicy)
{
    public static ResourceSettings None { get; } = new(null, null);

    public override string ToString() => $"timeout={TimeoutSeconds?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} maxmemory-policy={MaxMemoryPolicy ?? "-"}";
}

/// <summary>One configured node of a resource.</summary>
internal sealed record NodeSpec(string Name, string Address, string Zone);

/// <summary>What an agent says about its node (a report), as the machine needs it.</summary>
internal sealed record NodeReport(
    NodeRole Role,
    long ReplicationOffset,
    bool LinkUp,
    string? PrimaryAddress,
    bool SyncInProgress,
    Verdict LocalVerdict,
    bool Fenced,
    long TermSeen,
    ResourceSettings Settings,
    IReadOnlyList<TargetSeen> Observations,
    FailoverAsk? Request = null,
    DateTimeOffset? SelfFencedAt = null,
    string RedisVersion = "",
    string Persistence = "",
    PlanSample? Plan = null)
{
    public bool IsPrimary => Role == NodeRole.Primary;
}

/// <summary>An agent's request that its node be failed over (restarting it is hopeless or would lose data).</summary>
internal sealed record FailoverAsk(FailoverCause Cause, string Reason);

/// <summary>What an agent sees of a target: its combined verdict and its host verdict.</summary>
/// <param name="Port">The last port probe's outcome (Refused, ConnectTimeout...), which tells a live host's ProcessDown from a silent one's; Unspecified when the agent has not probed it.</param>
/// <param name="HostSilentSince">The start of the first SSH probe the host has not answered since its last answer (null: it answered the last one).</param>
internal sealed record TargetSeen(string Target, Verdict Verdict, HostVerdict HostVerdict, DateTimeOffset At, PortOutcome Port = PortOutcome.Unspecified, DateTimeOffset? HostSilentSince = null);

/// <summary>What the machine asks for: send a command, write the journal, persist, publish.</summary>
internal abstract record Effect;

internal enum CommandKind
{
    ProbeNow,
    Promote,
    ReplicateFrom,
    ApplySettings,
    Fence,
    Unfence,
    RestartLease,

    /// <summary>A planned switchover's wait for its target to reach the paused primary's offset (sent outside the machine's effects).</summary>
    CatchUp,
}

/// <summary>A restart lease as the coordinator sends it: granted for a time, or ended with a reason.</summary>
/// <param name="NoStandby">The node is the primary and no standby is in sync: restarting is its only way back.</param>
/// <param name="NotPrimary">Another node is the primary: this one is restarted past any refusal, to be rebuilt as its replica.</param>
internal sealed record LeaseGrant(bool Granted, TimeSpan Ttl, bool FenceOnStart, string Reason = "", bool NoStandby = false, bool NotPrimary = false);

/// <summary>A command to one node's agent, stamped with the term it belongs to.</summary>
internal sealed record SendCommand(string Node, CommandKind Kind, long Term, string? Argument = null, ResourceSettings? Settings = null, LeaseGrant? Lease = null) : Effect;

/// <summary>A line of the incident's decision journal.</summary>
/// <param name="Incident">The incident the line belongs to when it is not the open one (a loss measured after the failover's incident closed).</param>
internal sealed record JournalLine(string Kind, string Text, long Term = 0, string? Incident = null) : Effect;

/// <summary>Write term and primary durably; nothing after it in the same list may run before it has.</summary>
internal sealed record PersistTerm(long Term, string? Primary) : Effect;

/// <summary>
/// The in-sync set changed: write the record (term and primary unchanged) with the other resources'
/// of the same tick, in as few store writes as the store allows. Never blocks a command: nothing
/// that follows it depends on it being durable.
/// </summary>
internal sealed record PersistInSync : Effect;

/// <summary>Tell applications where the primary is now.</summary>
internal sealed record PublishPrimary(string Node, string Address, long Term) : Effect;

/// <summary>An incident opened or closed (the journal groups lines by incident).</summary>
internal sealed record IncidentChange(string? OpenedId, string? ClosedOutcome) : Effect;

/// <summary>The resource's nodes changed: every agent is told, so that each watches the others.</summary>
internal sealed record MembershipChanged : Effect;

/// <summary>A node was promoted, and why (<see cref="Decisions.Reasons"/>): counted in the coordinator's metrics.</summary>
internal sealed record Promoted(string Node, string Reason) : Effect;

/// <summary>A planned switchover ended: its target promoted, or rolled back.</summary>
internal sealed record SwitchoverEnded(bool Done) : Effect;

/// <summary>A node's use of its plan at one sample (limits null: nothing limits it).</summary>
internal sealed record PlanSample(string Plan, long UsedMemory, long? MemoryLimit, long Connections, long? ConnectionLimit, DateTimeOffset At);
