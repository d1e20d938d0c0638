using Prometheus;

namespace RedisAgent.Metrics;

/// <summary>
/// Sets prometheus-net series to values sampled from Redis. A counter Redis reset (a restart,
/// <c>CONFIG RESETSTAT</c>) goes down with it, which Prometheus reads as a counter reset; a labelled
/// series Redis no longer reports (a flushed db, a departed replica) is removed at the end of the
/// round instead of lingering at its last value.
/// </summary>
internal sealed class SampledSeries
{
    private readonly Dictionary<Collector, HashSet<LabelKey>> _seen = [];
    private readonly Dictionary<Collector, HashSet<LabelKey>> _previous = [];

    public void Set(Gauge gauge, double value, params string[] labels)
    {
        (labels.Length == 0 ? ((ICollector<Gauge.Child>)gauge).Unlabelled : gauge.WithLabels(labels)).Set(value);
        Seen(gauge, labels);
    }

    public void Set(Counter counter, double value, params string[] labels)
    {
        var child = labels.Length == 0 ? ((ICollector<Counter.Child>)counter).Unlabelled : counter.WithLabels(labels);
        if (value < child.Value)
        {
            // prometheus-net counters only go up; a new child starts from zero again.
            child.Remove();
            child = labels.Length == 0 ? ((ICollector<Counter.Child>)counter).Unlabelled : counter.WithLabels(labels);
        }

        child.IncTo(value);
        Seen(counter, labels);
    }

    /// <summary>Removes every series set in the previous round and not in this one; starts the next round.</summary>
    public void EndRound()
    {
        foreach (var (collector, previous) in _previous)
        {
            var seen = _seen.GetValueOrDefault(collector);
            foreach (var key in previous)
            {
                if (seen is null || !seen.Contains(key))
                {
                    Remove(collector, key.Values);
                }
            }
        }

        _previous.Clear();
        foreach (var (collector, seen) in _seen)
        {
            _previous[collector] = seen;
        }

        _seen.Clear();
    }

    private void Seen(Collector collector, string[] labels)
    {
        if (!_seen.TryGetValue(collector, out var set))
        {
            _seen[collector] = set = [];
        }

        set.Add(new LabelKey(labels));
    }

    private static void Remove(Collector collector, string[] labels)
    {
        switch (collector)
        {
            case Gauge gauge when labels.Length == 0:
                gauge.Unpublish();
                break;
            case Gauge gauge:
                gauge.RemoveLabelled(labels);
                break;
            case Counter counter when labels.Length == 0:
                counter.Unpublish();
                break;
            case Counter counter:
                counter.RemoveLabelled(labels);
                break;
            default:
                throw new InvalidOperationException($"Unexpected collector {collector.Name}.");
        }
    }

    private readonly record struct LabelKey(string[] Values)
    {
        public bool Equals(LabelKey other) => Values.AsSpan().SequenceEqual(other.Values);

        public override int GetHashCode()
        {
            var hash = new HashCode();
            foreach (var value in Values)
            {
                hash.Add(value);
            }

            return hash.ToHashCode();
        }
    }
}
