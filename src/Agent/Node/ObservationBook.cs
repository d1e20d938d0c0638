using System.Collections.Concurrent;
using RedisAgent.HostProbing;
using RedisAgent.Probing;
using Vocabulary = RedisFailover.Protos.Vocabulary;

namespace RedisAgent.Node;

/// <summary>What the agent last saw of one target (its own node or a peer), with timestamps.</summary>
internal sealed record TargetObservation(
    string Name,
    bool IsLocal,
    string RedisAddress,
    string? SshAddress,
    NodeVerdict Verdict,
    DateTimeOffset? VerdictSince,
    PortProbeResult? LastPort,
    HostVerdict HostVerdict,
    HostProbeResult? LastHost,
    IReadOnlyDictionary<PortProbeOutcome, long> PortOutcomes,
    IReadOnlyDictionary<HostProbeOutcome, long> HostOutcomes,
    TimeSpan PortLatencySum,
    TimeSpan HostLatencySum,
    DateTimeOffset? HostSilentSince = null,
    DateTimeOffset? LastAnswer = null)
{
    /// <summary>Port probes so far (the count beside <see cref="PortLatencySum"/>, as a Prometheus summary has it).</summary>
    public long PortProbes => PortOutcomes.Values.Sum();

    public long HostProbes => HostOutcomes.Values.Sum();
}

/// <summary>
/// The last observations per target, kept so that a coordinator can ask "what do you see" and the
/// metrics can export latencies and outcomes per target and probe kind.
/// </summary>
internal sealed class ObservationBook
{
    private readonly ConcurrentDictionary<string, TargetObservation> _targets = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, TargetObservation> Targets => _targets;

    /// <summary>Raised after each probe with the target, the kind (<c>port</c> or <c>host</c>) and the latency: the metrics' histogram listens.</summary>
    public event Action<string, string, TimeSpan>? Probed;

    public TargetObservation? this[string name] => _targets.GetValueOrDefault(name);

    public void Register(string name, bool isLocal, string redisAddress, string? sshAddress) =>
        _targets.TryAdd(name, new TargetObservation(
            name, isLocal, redisAddress, sshAddress, NodeVerdict.Unknown, null, null, HostVerdict.Unknown, null,
            new Dictionary<PortProbeOutcome, long>(), new Dictionary<HostProbeOutcome, long>(), TimeSpan.Zero, TimeSpan.Zero));

    /// <summary>A target no longer watched (a peer removed from the resource): its observations are no longer reported.</summary>
    public void Unregister(string name) => _targets.TryRemove(name, out _);

    public void RecordPort(string name, PortProbeResult result, NodeVerdict verdict, VerdictChange? change)
    {
        _targets.AddOrUpdate(name, _ => throw new InvalidOperationException($"Target {name} is not registered."), (_, t) => t with
        {
            // When the target's host last answered a port probe (anything a live host gives): the isolation fence's sign of a peer.
            LastAnswer = Vocabulary.ProvesHostAlive(result.Outcome.ToWire()) ? result.At + result.Latency : t.LastAnswer,
            LastPort = result,
            PortOutcomes = Increment(t.PortOutcomes, result.Outcome),
            PortLatencySum = t.PortLatencySum + result.Latency,
            Verdict = verdict,
            VerdictSince = change?.At ?? t.VerdictSince,
        });
        Probed?.Invoke(name, "port", result.Latency);
    }

    /// <summary>An SSH probe of <paramref name="name"/> starts at <paramref name="at"/>: until it answers, the host is silent since the first unanswered start.</summary>
    public void HostProbeStarting(string name, DateTimeOffset at) =>
        _targets.AddOrUpdate(name, _ => throw new InvalidOperationException($"Target {name} is not registered."), (_, t) => t with { HostSilentSince = t.HostSilentSince ?? at });

    public void RecordHost(string name, HostProbeResult result, HostVerdict hostVerdict, NodeVerdict verdict, VerdictChange? change)
    {
        _targets.AddOrUpdate(name, _ => throw new InvalidOperationException($"Target {name} is not registered."), (_, t) => t with
        {
            HostSilentSince = result.HostAnswered ? null : t.HostSilentSince ?? result.At,
            LastHost = result,
            HostOutcomes = Increment(t.HostOutcomes, result.Outcome),
            HostLatencySum = t.HostLatencySum + result.Latency,
            HostVerdict = hostVerdict,
            Verdict = verdict,
            VerdictSince = change?.At ?? t.VerdictSince,
        });
        Probed?.Invoke(name, "host", result.Latency);
    }

    private static Dictionary<TKey, long> Increment<TKey>(IReadOnlyDictionary<TKey, long> counts, TKey key)
        where TKey : notnull
    {
        var next = new Dictionary<TKey, long>(counts);
        next[key] = next.GetValueOrDefault(key) + 1;
        return next;
    }
}
