using Microsoft.Extensions.Options;
using RedisFailover.Coordination;
using RedisFailover.Hosting;

namespace RedisFailover.Dashboard;

/// <summary>One point of a plan-limit chart: the primary's highest use within a <see cref="PlanHistory.Resolution"/>.</summary>
internal readonly record struct PlanPoint(DateTimeOffset At, string Node, string Plan, long UsedMemory, long? MemoryLimit, long Connections, long? ConnectionLimit);

/// <summary>
/// The dashboard's plan-limit history: each resource's primary's memory and connections against its
/// plan's limits, one point per <see cref="Resolution"/> (the highest use in it, since a limit is
/// about peaks), 24 hours kept in a ring per resource: at the default one-minute resolution 1,440
/// points, about 100 KB a resource. Kept only while the dashboard is on; lost with the process.
/// </summary>
internal sealed class PlanHistory
{
    public static readonly TimeSpan Kept = TimeSpan.FromHours(24);

    private readonly Dictionary<string, Ring> _resources = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public PlanHistory(IOptions<FailoverOptions> options)
    {
        Resolution = options.Value.DashboardResolution;
        Enabled = options.Value.DashboardUrl is { Length: > 0 };
    }

    public TimeSpan Resolution { get; }

    /// <summary>False when no dashboard is served: nothing is kept.</summary>
    public bool Enabled { get; }

    /// <summary>A sample of <paramref name="node"/>, the primary of <paramref name="resource"/> when it reported.</summary>
    public void Record(string resource, string node, PlanSample sample)
    {
        if (!Enabled || sample.At == DateTimeOffset.MinValue)
        {
            return;
        }

        var slot = new DateTimeOffset(sample.At.UtcTicks - (sample.At.UtcTicks % Resolution.Ticks), TimeSpan.Zero);
        lock (_lock)
        {
            if (!_resources.TryGetValue(resource, out var ring))
            {
                _resources[resource] = ring = new Ring((int)Math.Min(100_000, Kept.Ticks / Resolution.Ticks));
            }

            ring.Add(slot, node, sample);
        }
    }

    /// <summary>The resource's points, oldest first.</summary>
    public IReadOnlyList<PlanPoint> Points(string resource)
    {
        lock (_lock)
        {
            return _resources.TryGetValue(resource, out var ring) ? ring.ToList() : [];
        }
    }

    private sealed class Ring(int capacity)
    {
        private readonly PlanPoint[] _points = new PlanPoint[capacity];
        private int _start;
        private int _count;

        public void Add(DateTimeOffset slot, string node, PlanSample sample)
        {
            if (_count > 0)
            {
                ref var last = ref _points[(_start + _count - 1) % _points.Length];
                if (slot < last.At)
                {
                    // An older sample than the last point (a report delayed): not rewritten into the past.
                    return;
                }

                if (last.At == slot && last.Node == node)
                {
                    last = last with
                    {
                        UsedMemory = Math.Max(last.UsedMemory, sample.UsedMemory),
                        Connections = Math.Max(last.Connections, sample.Connections),
                        MemoryLimit = sample.MemoryLimit,
                        ConnectionLimit = sample.ConnectionLimit,
                        Plan = sample.Plan,
                    };
                    return;
                }
            }

            var point = new PlanPoint(slot, node, sample.Plan, sample.UsedMemory, sample.MemoryLimit, sample.Connections, sample.ConnectionLimit);
            if (_count < _points.Length)
            {
                _points[(_start + _count) % _points.Length] = point;
                _count++;
            }
            else
            {
                _points[_start] = point;
                _start = (_start + 1) % _points.Length;
            }
        }

        public List<PlanPoint> ToList()
        {
            var list = new List<PlanPoint>(_count);
            for (var i = 0; i < _count; i++)
            {
                list.Add(_points[(_start + i) % _points.Length]);
            }

            return list;
        }
    }
}
