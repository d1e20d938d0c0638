using Prometheus;

namespace RedisFailover.Coordination;

/// <summary>
/// What each resource decided, counted as it happens (part of the coordinator's <c>/metrics</c>):
/// incidents by outcome and how long each took from its opening to its decision, promotions by
/// reason, switchovers by result. One per coordinator process; counts start at zero with it.
/// </summary>
internal sealed class Decisions
{
    /// <summary>The outcomes an incident closes with, as label values.</summary>
    public static readonly string[] Outcomes = ["failed_over", "refuted", "not_confirmed", "blocked", "switched_over"];

    /// <summary>Why a node was promoted, as label values.</summary>
    public static readonly string[] Reasons = ["host_lost", "restart_hopeless", "switchover", "forced"];

    private readonly Counter _opened;
    private readonly Counter _closed;
    private readonly Histogram _seconds;
    private readonly Counter _promotions;
    private readonly Counter _switchovers;

    public Decisions(CollectorRegistry registry)
    {
        var factory = Metrics.WithCustomRegistry(registry);
        _opened = factory.CreateCounter("redis_failover_incidents_opened_total", "Incidents opened (a suspected loss, an agent's request, an operator's promote)", "resource");
        _closed = factory.CreateCounter("redis_failover_incidents_total", "Incidents closed, by outcome (failed_over, refuted, not_confirmed, blocked, switched_over)", "resource", "outcome");
        _seconds = factory.CreateHistogram("redis_failover_decision_seconds", "From an incident's opening to its decision (promotion, refutation...), by outcome", new HistogramConfiguration
        {
            LabelNames = ["resource", "outcome"],
            Buckets = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
        });
        _promotions = factory.CreateCounter("redis_failover_promotions_total", "Nodes promoted, by reason (host_lost, restart_hopeless, switchover, forced)", "resource", "reason");
        _switchovers = factory.CreateCounter("redis_failover_switchovers_total", "Planned switchovers, by result (done, rolled_back)", "resource", "result");
    }

    /// <summary>Every series of a resource at zero, so that rates and alerts see it before its first decision.</summary>
    public void Known(string resource)
    {
        _opened.WithLabels(resource);
        foreach (var outcome in Outcomes)
        {
            _closed.WithLabels(resource, outcome);
        }

        foreach (var reason in Reasons)
        {
            _promotions.WithLabels(resource, reason);
        }

        _switchovers.WithLabels(resource, "done");
        _switchovers.WithLabels(resource, "rolled_back");
    }

    public void Opened(string resource) => _opened.WithLabels(resource).Inc();

    public void Closed(string resource, string outcome, TimeSpan took)
    {
        var label = outcome.Replace(' ', '_');
        _closed.WithLabels(resource, label).Inc();
        _seconds.WithLabels(resource, label).Observe(Math.Max(0, took.TotalSeconds));
    }

    public void Promoted(string resource, string reason) => _promotions.WithLabels(resource, reason).Inc();

    public void Switchover(string resource, bool done) => _switchovers.WithLabels(resource, done ? "done" : "rolled_back").Inc();
}
