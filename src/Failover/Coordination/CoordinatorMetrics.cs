using Prometheus;
using RedisFailover.Services;

namespace RedisFailover.Coordination;

/// <summary>
/// The coordinator's own metrics (<c>GET /metrics</c> on <c>Failover:MetricsUrl</c>), read from its
/// state at each scrape: what each resource is doing, and what is going wrong beneath it (a store
/// that refuses writes, decisions held back, a URL file not written, calls refused).
/// </summary>
internal sealed class CoordinatorMetrics
{
    private static readonly string[] States = Enum.GetNames<ResourceState>();

    private readonly Coordinator _coordinator;
    private readonly PrimaryPublisher _publisher;
    private readonly RefusalLog _refusals;
    private readonly Gauge _term;
    private readonly Gauge _state;
    private readonly Gauge _agents;
    private readonly Counter _storeFailures;
    private readonly Gauge _storeFailing;
    private readonly Gauge _held;
    private readonly Gauge _urlFilesPending;
    private readonly Counter _refused;
    private readonly Gauge _blocked;
    private readonly Gauge _nodes;
    private readonly Gauge _paused;
    private readonly Gauge _leading;
    private readonly TimeProvider _time;

    private readonly Gauge _round;
    private readonly Gauge _against;
    private readonly Gauge _quorum;
    private readonly Gauge _confirming;
    private readonly Counter _gcPause;
    private readonly Counter _allocated;

    /// <param name="registry">Shared with <see cref="Decisions"/>, which counts decisions as they are made.</param>
    public CoordinatorMetrics(Coordinator coordinator, PrimaryPublisher publisher, RefusalLog refusals, CollectorRegistry registry, TimeProvider time)
    {
        _coordinator = coordinator;
        _publisher = publisher;
        _refusals = refusals;
        _time = time;
        Registry = registry;
        var factory = Metrics.WithCustomRegistry(Registry);
        _round = factory.CreateGauge("redis_failover_confirmation_round", "The round of the confirmation in progress (0: none)", "resource");
        _against = factory.CreateGauge("redis_failover_confirmation_votes", "Vantages whose answers this round count against the primary (its host gone, or its port down when its agent asked)", "resource");
        _quorum = factory.CreateGauge("redis_failover_confirmation_quorum", "Vantages needed to confirm a loss now", "resource");
        _confirming = factory.CreateGauge("redis_failover_confirmation_seconds", "Since the confirmation in progress opened its window (0: none)", "resource");
        _term = factory.CreateGauge("redis_failover_term", "The resource's current term (one more at each failover or switchover)", "resource");
        _state = factory.CreateGauge("redis_failover_resource_state", "1 for the resource's current state, 0 for the others", "resource", "state");
        _agents = factory.CreateGauge("redis_failover_agents_connected", "Agents of the resource with an open stream", "resource");
        _storeFailures = factory.CreateCounter("redis_failover_store_write_failures_total", "Writes the store refused (a full or read-only disk); each is retried", "resource");
        _storeFailing = factory.CreateGauge("redis_failover_store_failing", "1 while the store refuses the resource's writes (its decisions wait)", "resource");
        _held = factory.CreateGauge("redis_failover_held_effects", "Decisions (commands, journal lines) waiting for the store to take a write", "resource");
        _urlFilesPending = factory.CreateGauge("redis_failover_url_files_pending", "URL files whose last write failed (retried every tick)");
        _refused = factory.CreateCounter("redis_failover_refused_calls_total", "Calls refused (bad token, bad input, too slow to register)");
        _blocked = factory.CreateGauge("redis_failover_failover_blocked", "1 for each reason a failover of the resource could not happen now (paused, no_primary, no_standby_in_sync, too_few_vantages, store_unavailable), 0 for the others", "resource", "reason");
        _nodes = factory.CreateGauge("redis_failover_nodes", "Nodes the resource has (agents_connected below it: agents missing)", "resource");
        _paused = factory.CreateGauge("redis_failover_paused", "1 while automatic failover of the resource is paused", "resource");
        _leading = factory.CreateGauge("redis_failover_leading", "1 while this coordinator leads (with the file store, always)");
        // The process's own footprint, as the agent serves it (process_*, dotnet_collection_count_total,
        // dotnet_total_memory_bytes), and what a report's allocations cost: each collection pauses every
        // agent's stream (docs/benchmarks.md, the fleet's tail).
        Prometheus.DotNetStats.Register(Registry);
        _gcPause = factory.CreateCounter("dotnet_gc_pause_seconds_total", "Time the process was paused by garbage collections (GC.GetTotalPauseDuration)");
        _allocated = factory.CreateCounter("dotnet_gc_allocated_bytes_total", "Bytes the process allocated on the managed heap (GC.GetTotalAllocatedBytes)");
        Registry.AddBeforeCollectCallback(Update);
    }

    public CollectorRegistry Registry { get; }

    private void Update()
    {
        foreach (var resource in _coordinator.Resources)
        {
            var (term, state, connected, nodes, paused, blockers, progress, quorum) = resource.Read(m =>
                (m.Term, m.State, m.Nodes.Count(n => n.Connected), m.Nodes.Count, m.Paused, m.FailoverBlockers().Select(b => b.Code).Append(resource.StoreBlocker?.Code ?? "").ToHashSet(StringComparer.Ordinal),
                 m.Progress, m.Policy.QuorumOf(m.Nodes.Count(n => n.Spec.Name != m.Primary))));
            _round.WithLabels(resource.Name).Set(progress?.Round ?? 0);
            _against.WithLabels(resource.Name).Set(progress?.Against ?? 0);
            _quorum.WithLabels(resource.Name).Set(progress?.Quorum ?? quorum);
            _confirming.WithLabels(resource.Name).Set(progress is { } p ? Math.Max(0, (_time.GetUtcNow() - p.WindowStart).TotalSeconds) : 0);
            foreach (var code in ResourceMachine.BlockerCodes)
            {
                _blocked.WithLabels(resource.Name, code).Set(blockers.Contains(code) ? 1 : 0);
            }

            _nodes.WithLabels(resource.Name).Set(nodes);
            _paused.WithLabels(resource.Name).Set(paused ? 1 : 0);
            _term.WithLabels(resource.Name).Set(term);
            foreach (var name in States)
            {
                _state.WithLabels(resource.Name, name).Set(name == state.ToString() ? 1 : 0);
            }

            _agents.WithLabels(resource.Name).Set(connected);
            _storeFailures.WithLabels(resource.Name).IncTo(resource.StoreFailures);
            _storeFailing.WithLabels(resource.Name).Set(resource.StoreFailingSince is null ? 0 : 1);
            _held.WithLabels(resource.Name).Set(resource.HeldEffects);
        }

        _leading.Set(_coordinator.Leadership.Leads ? 1 : 0);
        _gcPause.IncTo(GC.GetTotalPauseDuration().TotalSeconds);
        _allocated.IncTo(GC.GetTotalAllocatedBytes());
        _urlFilesPending.Set(_publisher.PendingFiles);
        _refused.IncTo(_refusals.Total);
    }
}
