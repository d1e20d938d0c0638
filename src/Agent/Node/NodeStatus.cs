using RedisAgent.Probing;
using RedisAgent.Sampling;
using RedisAgent.Supervision;

namespace RedisAgent.Node;

/// <summary>An immutable picture of what the agent knows about its node, for reports, metrics and tests.</summary>
internal sealed record NodeSnapshot(
    NodeVerdict Verdict,
    DateTimeOffset? VerdictSince,
    PortProbeResult? LastProbe,
    long Probes,
    IReadOnlyDictionary<PortProbeOutcome, long> ProbeOutcomes,
    SupervisorPhase Phase,
    RestartRecord? LastRestart,
    IReadOnlyDictionary<RestartTrigger, long> RestartsByTrigger,
    ExitStatus? LastExit,
    string? NeedsFailover,
    long RestartsRefused,
    NodeFacts? Facts,
    GuardKind Refusal = GuardKind.None)
{
    public long Restarts => RestartsByTrigger.Values.Sum();
}

/// <summary>
/// The one place the agent's loops write what they learn and readers take snapshots from.
/// Writers are few and rare (a probe a second), so a lock is simpler than anything cleverer.
/// </summary>
internal sealed class NodeStatus
{
    private readonly Lock _lock = new();
    private NodeSnapshot _snapshot = new(
        NodeVerdict.Unknown, null, null, 0, new Dictionary<PortProbeOutcome, long>(), SupervisorPhase.Watching, null,
        new Dictionary<RestartTrigger, long>(), null, null, 0, null);

    public NodeSnapshot Snapshot
    {
        get
        {
            lock (_lock)
            {
                return _snapshot;
            }
        }
    }

    public void RecordProbe(PortProbeResult result, NodeVerdict verdict, VerdictChange? change) => Update(s =>
    {
        var outcomes = new Dictionary<PortProbeOutcome, long>(s.ProbeOutcomes);
        outcomes[result.Outcome] = outcomes.GetValueOrDefault(result.Outcome) + 1;
        return s with
        {
            LastProbe = result,
            Probes = s.Probes + 1,
            ProbeOutcomes = outcomes,
            Verdict = verdict,
            VerdictSince = change?.At ?? s.VerdictSince,
        };
    });

    /// <summary>A verdict reached through the host probe (no port observation with it).</summary>
    public void RecordVerdict(NodeVerdict verdict, VerdictChange? change) =>
        Update(s => s with { Verdict = verdict, VerdictSince = change?.At ?? s.VerdictSince });

    /// <summary>Raised after the supervisor's phase changed (a coordinator link reports it at once).</summary>
    public event Action? PhaseChanged;

    public void SetPhase(SupervisorPhase phase, string? needsFailover, GuardKind refusal = GuardKind.None)
    {
        Update(s => s with { Phase = phase, NeedsFailover = needsFailover, Refusal = refusal });
        PhaseChanged?.Invoke();
    }

    public void RecordRestart(RestartRecord record) => Update(s =>
    {
        var counts = new Dictionary<RestartTrigger, long>(s.RestartsByTrigger);
        counts[record.Cause.Trigger] = counts.GetValueOrDefault(record.Cause.Trigger) + 1;
        return s with { LastRestart = record, RestartsByTrigger = counts };
    });

    public void RecordRefusal() => Update(s => s with { RestartsRefused = s.RestartsRefused + 1 });

    public void RecordExit(ExitStatus status) => Update(s => s with { LastExit = status });

    public void SetFacts(NodeFacts facts) => Update(s => s with { Facts = facts });

    private void Update(Func<NodeSnapshot, NodeSnapshot> change)
    {
        lock (_lock)
        {
            _snapshot = change(_snapshot);
        }
    }
}
