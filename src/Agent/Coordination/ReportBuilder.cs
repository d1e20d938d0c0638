using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;
using RedisAgent.Connection;
using RedisAgent.Node;
using RedisAgent.Probing;
using RedisAgent.Sampling;
using RedisFailover.Protos;

namespace RedisAgent.Coordination;

/// <summary>
/// What the agent tells the coordinator: its node's replication and settings, and its judgement of
/// every target it watches, in the contract's words (and, until 0.3, the previous release's names).
/// </summary>
internal sealed partial class ReportBuilder(
    TermStore terms,
    SampleBook samples,
    Node.NodeStatus status,
    ObservationBook observations,
    NodeControl control,
    RedisConnection connection,
    Microsoft.Extensions.Options.IOptions<Metrics.PlanOptions> plans,
    TimeProvider time,
    ILogger<ReportBuilder> logger)
{
    private readonly Metrics.Plan? _plan = plans.Value.Name is { Length: > 0 } name ? Metrics.Plans.Find(name, plans.Value.Custom) : null;

    /// <summary>The node's role at its last sample.</summary>
    public NodeRole Role => Vocabulary.RoleFromInfo(samples.Last?.Info.GetValueOrDefault("role"));

    /// <summary>
    /// The report of this moment: the node's replication as <c>INFO replication</c> says it now
    /// (the coordinator estimates a failover's loss from these offsets, so a sample up to a
    /// Sampling:Interval old would understate it), its settings from the last sample, and every
    /// target's latest verdict. When the node does not answer, the last sample stands in.
    /// </summary>
    public async Task<Report> ReportAsync()
    {
        IReadOnlyDictionary<string, string>? fresh = null;
        try
        {
            var server = await connection.ServerAsync().WaitAsync(TimeSpan.FromMilliseconds(500), time).ConfigureAwait(false);
            fresh = InfoParser.Parse(await server.InfoRawAsync("replication").WaitAsync(TimeSpan.FromMilliseconds(500), time).ConfigureAwait(false) ?? "");
        }
        catch (Exception ex) when (ex is TimeoutException or StackExchange.Redis.RedisException)
        {
            Log.ReportWithoutInfo(logger, ex.GetType().Name + ": " + ex.Message);
        }

        return Build(fresh);
    }

    /// <summary>The report from <paramref name="fresh"/> INFO replication (or, when null or empty, the last sample's).</summary>
    internal Report Build(IReadOnlyDictionary<string, string>? fresh)
    {
        var snapshot = status.Snapshot;
        var verdict = snapshot.Verdict;
        var report = new Report { TermSeen = terms.Highest, Fenced = control.Fenced, LocalVerdict = verdict.ToWire(), LocalVerdictName = verdict.ToString() };
        if (Request(snapshot) is { } request)
        {
            report.FailoverRequest = request;
        }

        if (control.SelfFencedAt is { } selfFenced)
        {
            report.SelfFencedAt = Timestamp.FromDateTimeOffset(selfFenced);
        }

        if (samples.Last is { } sample)
        {
            var replication = InfoParser.ToReplication(fresh is { Count: > 0 } ? fresh : sample.Info);
            report.Role = replication.Role;
            report.RoleName = replication.Role.LegacyName();
            report.ReplicationOffset = replication.Offset;
            report.LinkUp = replication.LinkUp;
            report.PrimaryAddress = replication.PrimaryAddress;
            report.SyncInProgress = replication.SyncInProgress;
            report.Settings = new Settings();
            if (sample.Config?.Timeout is { } timeout)
            {
                report.Settings.TimeoutSeconds = timeout;
            }

            if (sample.MaxMemoryPolicy is { } policy)
            {
                report.Settings.MaxmemoryPolicy = policy;
            }

            report.RedisVersion = sample.Info.GetValueOrDefault("redis_version") ?? "";
            report.Persistence = Persistence(sample);
            var usage = Metrics.PlanUsage.Compute(_plan, sample);
            report.PlanUsage = new RedisFailover.Protos.PlanUsage
            {
                Plan = usage.PlanName,
                UsedMemoryBytes = usage.UsedMemory,
                MemoryLimitBytes = usage.MemoryLimit ?? 0,
                ActiveConnections = usage.ActiveConnections,
                ConnectionLimit = usage.ConnectionLimit ?? 0,
                SampledAt = Timestamp.FromDateTimeOffset(sample.At),
            };
        }

        foreach (var target in observations.Targets.Keys)
        {
            if (Observe(target) is { } seen)
            {
                report.Observations.Add(seen);
            }
        }

        return report;
    }

    /// <summary>How the node persists, as an operator's <c>info</c> shows it (Heroku's "Persistence: AOF").</summary>
    internal static string Persistence(Sampling.RedisSample sample) =>
        sample.Info.GetValueOrDefault("aof_enabled") == "1"
            ? $"AOF (appendfsync {sample.Config?.AppendFsync ?? "?"})"
            : sample.Config?.Save is not { } save ? "unknown (CONFIG unavailable)"
            : save.Trim().Length > 0 ? $"RDB (save {save.Trim()})" : "none";

    /// <summary>
    /// The failover this agent asks for: while restarting its node is hopeless (the start limit),
    /// refused (the persistence guard), or once a restart failed while the restarts go on (a node
    /// that cannot start is failed over at once when a standby is in sync). Not for a lost host: the coordinator's vantages judge that,
    /// and an agent off the host cannot tell its own partition from the host's loss.
    /// </summary>
    internal static FailoverRequest? Request(NodeSnapshot snapshot) => (snapshot.Phase, snapshot.Refusal) switch
    {
        (SupervisorPhase.GaveUp, _) => new FailoverRequest { Cause = FailoverCause.StartLimit, Reason = snapshot.NeedsFailover ?? "" },
        (SupervisorPhase.Refused, GuardKind.OlderData) => new FailoverRequest { Cause = FailoverCause.OlderData, Reason = snapshot.NeedsFailover ?? "" },
        (SupervisorPhase.Refused, _) => new FailoverRequest { Cause = FailoverCause.NoPersistence, Reason = snapshot.NeedsFailover ?? "" },
        (SupervisorPhase.RestartPending or SupervisorPhase.Starting or SupervisorPhase.AwaitingLease, _) when snapshot.NeedsFailover is { } failed
            => new FailoverRequest { Cause = FailoverCause.StartFailed, Reason = failed },
        _ => null,
    };

    /// <summary>The agent's current judgement of <paramref name="target"/> (its port is probed every Probe:Interval); null when it does not watch it.</summary>
    public Observation? Observe(string target)
    {
        if (observations[target] is not { } seen)
        {
            return null;
        }

        var at = seen.LastPort?.At ?? seen.LastHost?.At ?? time.GetUtcNow();
        return new Observation
        {
            HostSilentSince = seen.HostSilentSince is { } silent ? Timestamp.FromDateTimeOffset(silent) : null,
            Target = target,
            Verdict = seen.Verdict.ToWire(),
            HostVerdict = seen.HostVerdict.ToWire(),
            At = Timestamp.FromDateTimeOffset(at),
            Port = seen.LastPort?.Outcome.ToWire() ?? PortOutcome.Unspecified,
            // The previous release's coordinator reads only these names (until 0.3).
            VerdictName = seen.Verdict.ToString(),
            HostVerdictName = seen.HostVerdict.ToString(),
            PortName = seen.LastPort?.Outcome.ToString() ?? "",
        };
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1607, Level = LogLevel.Debug, Message = "INFO replication did not answer for the report; the last sample stands in: {Error}")]
        public static partial void ReportWithoutInfo(ILogger logger, string error);
    }
}
