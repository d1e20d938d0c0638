namespace RedisAgent.Logs;

/// <summary>
/// Takes every line of the resource (Redis's and the agent's) and hands it to each sink's own
/// queue, and to a ring of recent lines. Publishing never waits: a slow sink only loses its own
/// oldest lines.
/// </summary>
internal sealed class LogBus(Microsoft.Extensions.Options.IOptions<LogOptions> logOptions)
{
    private readonly LogOptions _options = logOptions.Value;
    private readonly Lock _lock = new();
    private readonly List<SinkQueue> _sinks = [];
    private readonly LogLine[] _history = new LogLine[Math.Max(1, logOptions.Value.HistoryLines)];
    private long _published;
    private readonly long[] _publishedBySource = new long[Enum.GetValues<LogSource>().Length];
    private readonly Dictionary<string, SinkCounters> _retired = new(StringComparer.Ordinal);

    public string Resource => _options.Resource ?? "redis";

    public IReadOnlyList<SinkQueue> Sinks
    {
        get
        {
            lock (_lock)
            {
                return [.. _sinks];
            }
        }
    }

    public void Attach(SinkQueue sink)
    {
        lock (_lock)
        {
            _sinks.Add(sink);
        }
    }

    public void Detach(SinkQueue sink)
    {
        lock (_lock)
        {
            if (_sinks.Remove(sink))
            {
                // A departed tail's counts stay in its kind's totals, so the counters never go down.
                var c = sink.Counters;
                var r = _retired.GetValueOrDefault(sink.Kind) ?? new SinkCounters(0, 0, 0, 0);
                _retired[sink.Kind] = new SinkCounters(r.Received + c.Received, r.Shipped + c.Shipped, r.Dropped + c.Dropped + c.Queued, 0, r.Unconfirmed + c.Unconfirmed);
            }
        }
    }

    /// <summary>Lines published since the agent started, by source.</summary>
    public long PublishedFrom(LogSource source)
    {
        lock (_lock)
        {
            return _publishedBySource[(int)source];
        }
    }

    /// <summary>
    /// Counters per kind of sink (<c>syslog</c>, <c>tail</c>), attached and departed together; a
    /// departed sink's queued lines count as dropped. With the number of sinks attached now.
    /// </summary>
    public IReadOnlyDictionary<string, (SinkCounters Counters, int Attached)> SinkTotals()
    {
        lock (_lock)
        {
            var totals = _retired.ToDictionary(kv => kv.Key, kv => (kv.Value, 0), StringComparer.Ordinal);
            foreach (var sink in _sinks)
            {
                var c = sink.Counters;
                var (t, attached) = totals.GetValueOrDefault(sink.Kind, (new SinkCounters(0, 0, 0, 0), 0));
                totals[sink.Kind] = (new SinkCounters(t.Received + c.Received, t.Shipped + c.Shipped, t.Dropped + c.Dropped, t.Queued + c.Queued, t.Unconfirmed + c.Unconfirmed), attached + 1);
            }

            return totals;
        }
    }

    public void Publish(LogLine line)
    {
        SinkQueue[] sinks;
        lock (_lock)
        {
            _history[_published % _history.Length] = line;
            _published++;
            _publishedBySource[(int)line.Source]++;
            sinks = [.. _sinks];
        }

        foreach (var sink in sinks)
        {
            sink.Offer(line);
        }
    }

    /// <summary>
    /// For a source that can afford to wait (a file: the data is safe on disk, and Redis does not
    /// wait for its reader): waits up to <paramref name="grace"/> while a sink is behind but still
    /// moving, so a burst reaches a drain that is merely slower instead of overflowing its queue.
    /// Stalled sinks are not waited for. Never called for Redis's stdout, where waiting would
    /// block Redis on its pipe.
    /// </summary>
    public async Task WaitForRoomAsync(TimeSpan grace, TimeProvider time, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        while (Sinks.Any(s => s.IsBehindButMoving) && time.GetElapsedTime(started) < grace)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(2), time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Attaches <paramref name="sink"/> and returns the <paramref name="count"/> most recent lines, in
    /// one step: every line is then either in the history returned or in the sink, never both or neither.
    /// </summary>
    public IReadOnlyList<LogLine> Subscribe(SinkQueue sink, int count)
    {
        lock (_lock)
        {
            _sinks.Add(sink);
            return HistoryLocked(count);
        }
    }

    /// <summary>
    /// Like <see cref="Subscribe"/> for a live tail, unless <paramref name="maxTails"/> tails are attached
    /// already: then null, and nothing is attached.
    /// </summary>
    public IReadOnlyList<LogLine>? TrySubscribeTail(SinkQueue tail, int maxTails, int count)
    {
        lock (_lock)
        {
            if (_sinks.Count(s => s.Kind == tail.Kind) >= maxTails)
            {
                return null;
            }

            _sinks.Add(tail);
            return HistoryLocked(count);
        }
    }

    /// <summary>The most recent lines, oldest first (at most <see cref="LogOptions.HistoryLines"/>).</summary>
    public IReadOnlyList<LogLine> History(int count = int.MaxValue)
    {
        lock (_lock)
        {
            return HistoryLocked(count);
        }
    }

    private LogLine[] HistoryLocked(int count)
    {
        var available = (int)Math.Min(_published, _history.Length);
        var take = Math.Min(available, count);
        var lines = new LogLine[take];
        for (var i = 0; i < take; i++)
        {
            lines[i] = _history[(_published - take + i) % _history.Length];
        }

        return lines;
    }
}
