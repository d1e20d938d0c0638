using System.Globalization;

namespace RedisAgent.Logs;

/// <summary>
/// A sink's counters at one instant: <c>Received == Shipped + Dropped + Queued</c>, always;
/// <c>Unconfirmed</c> of the shipped ones went out on a connection that died before the drain was
/// seen to read them.
/// </summary>
internal sealed record SinkCounters(long Received, long Shipped, long Dropped, long Queued, long Unconfirmed = 0);

/// <summary>
/// One sink's bounded, best-effort queue. Offering never blocks: when the sink is too slow the
/// oldest line goes, so a stalled drain costs memory up to its capacity and nothing else
/// (no probe, no other sink waits). The reader is told of the loss in-line, before the next
/// line it takes: <c>... N lines dropped since T</c>. A line taken is "in flight" until the sink
/// says it was shipped, or gives it up (then it counts as dropped).
/// </summary>
internal sealed class SinkQueue
{
    private readonly Lock _lock = new();
    private readonly Queue<LogLine> _lines = new();
    private readonly SemaphoreSlim _available = new(0);
    private readonly int _capacity;
    private readonly long _maxBytes;
    private readonly TimeProvider _time;
    private long _bytes;
    private long _received;
    private long _shipped;
    private long _dropped;
    private long _unconfirmed;
    private long _inFlight;
    private long _unreportedDrops;
    private DateTimeOffset? _dropsSince;
    private long _lastProgress;

    /// <param name="name">The sink's kind and name (<c>syslog tcp://...</c>, <c>tail 127.0.0.1</c>).</param>
    /// <param name="capacity">The most lines queued.</param>
    /// <param name="time">The clock for loss markers and stall detection.</param>
    /// <param name="maxBytes">The most memory the queued lines may hold (an estimate: two bytes a character plus the line's own overhead); the oldest go first, but the newest line is always kept.</param>
    public SinkQueue(string name, int capacity, TimeProvider time, long maxBytes = long.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        Name = name;
        _capacity = capacity;
        _maxBytes = maxBytes;
        _time = time;
        _lastProgress = time.GetTimestamp();
    }

    /// <summary>How long a sink may ship nothing, with lines waiting, before it counts as stalled.</summary>
    public static readonly TimeSpan StallAfter = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// True when the sink is more than half full but still shipping: worth a short wait by a source
    /// that can wait (a file). A stalled sink (nothing shipped for <see cref="StallAfter"/>) is never
    /// waited for: it loses its oldest lines instead.
    /// </summary>
    public bool IsBehindButMoving
    {
        get
        {
            lock (_lock)
            {
                return _lines.Count > _capacity / 2 && _time.GetElapsedTime(_lastProgress) < StallAfter;
            }
        }
    }

    public string Name { get; }

    /// <summary>The kind of sink (<c>syslog</c>, <c>tail</c>): the first word of its name, and its label in the metrics.</summary>
    public string Kind => Name.Split(' ', 2)[0];

    public SinkCounters Counters
    {
        get
        {
            lock (_lock)
            {
                return new SinkCounters(_received, _shipped, _dropped, _lines.Count + _inFlight, Interlocked.Read(ref _unconfirmed));
            }
        }
    }

    public void Offer(LogLine line)
    {
        var signal = false;
        lock (_lock)
        {
            _received++;
            var size = SizeOf(line);
            var dropped = 0;
            while (_lines.Count > 0 && (_lines.Count >= _capacity || _bytes + size > _maxBytes))
            {
                var oldest = _lines.Dequeue();
                _bytes -= SizeOf(oldest);
                Drop(oldest.Timestamp);
                dropped++;
            }

            // A permit per queued line: a line that took a dropped one's place reuses its permit (when
            // it took several, the spare permits only wake a reader that then finds one line fewer).
            signal = dropped == 0;
            _lines.Enqueue(line);
            _bytes += size;
        }

        if (signal)
        {
            _available.Release();
        }
    }

    /// <summary>
    /// The next line, preceded by a loss marker when lines were dropped since the last take. A marker
    /// is extra (not a received line): ship it, but call neither <see cref="Shipped"/> nor <see cref="GaveUp"/> for it.
    /// </summary>
    public async Task<(LogLine Line, bool IsLossMarker)> TakeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            await _available.WaitAsync(cancellationToken).ConfigureAwait(false);
            lock (_lock)
            {
                if (_unreportedDrops > 0)
                {
                    // The marker is extra: it is not a received line, and the real line stays queued.
                    var marker = Marker(_unreportedDrops, _dropsSince!.Value);
                    _unreportedDrops = 0;
                    _dropsSince = null;
                    _available.Release();
                    return (marker, true);
                }

                if (_lines.TryDequeue(out var line))
                {
                    _bytes -= SizeOf(line);
                    _inFlight++;
                    return (line, false);
                }
            }
        }
    }

    /// <summary>Like <see cref="TakeAsync"/>, but only what is already there: false when the queue is empty.</summary>
    public bool TryTake(out LogLine line, out bool isLossMarker)
    {
        line = null!;
        isLossMarker = false;
        if (!_available.Wait(0))
        {
            return false;
        }

        lock (_lock)
        {
            if (_unreportedDrops > 0)
            {
                line = Marker(_unreportedDrops, _dropsSince!.Value);
                isLossMarker = true;
                _unreportedDrops = 0;
                _dropsSince = null;
                _available.Release();
                return true;
            }

            if (_lines.TryDequeue(out var next))
            {
                _bytes -= SizeOf(next);
                line = next;
                _inFlight++;
                return true;
            }
        }

        return false;
    }

    /// <summary>The line last taken reached its destination.</summary>
    public void Shipped() => Shipped(1);

    /// <summary><paramref name="count"/> lines taken reached their destination.</summary>
    public void Shipped(int count)
    {
        lock (_lock)
        {
            _inFlight -= count;
            _shipped += count;
            _lastProgress = _time.GetTimestamp();
        }
    }

    /// <summary><paramref name="count"/> lines shipped may not have reached their destination (see <see cref="TcpDelivery"/>).</summary>
    public void Unconfirmed(int count) => Interlocked.Add(ref _unconfirmed, count);

    /// <summary>The line last taken could not be delivered and is given up.</summary>
    public void GaveUp(LogLine line)
    {
        lock (_lock)
        {
            _inFlight--;
            Drop(line.Timestamp);
        }
    }

    /// <summary>What a queued line holds in memory, roughly: its text (UTF-16) and the objects around it.</summary>
    internal static long SizeOf(LogLine line) => 2L * line.Text.Length + 96;

    private void Drop(DateTimeOffset lineTime)
    {
        _dropped++;
        _unreportedDrops++;
        _dropsSince ??= lineTime;
    }

    private LogLine Marker(long count, DateTimeOffset since) => new(
        _time.GetUtcNow(),
        LogSource.Agent,
        '#',
        string.Create(CultureInfo.InvariantCulture, $"... {count} lines dropped since {since.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ} (this sink could not keep up)"));
}
