namespace RedisAgent.Supervision;

/// <summary>
/// When to restart, and when to stop trying. Pure: the caller passes the time and the jitter.
/// The first restart after a stable period is immediate (a crash should cost as little as the
/// server's own start); each further one waits twice as long, with jitter, up to a cap. More
/// than <see cref="RestartOptions.StartLimitBurst"/> restarts within
/// <see cref="RestartOptions.StartLimitInterval"/> and the policy gives up, as systemd's
/// StartLimitBurst does: a node that cannot stay up needs a failover, not another restart.
/// </summary>
internal sealed class RestartPolicy(RestartOptions options)
{
    private readonly Queue<DateTimeOffset> _recentRestarts = new();
    private int _consecutive;
    private DateTimeOffset? _healthySince;

    /// <summary>Restarts since the node was last stable.</summary>
    public int Consecutive => _consecutive;

    /// <summary>The node was seen healthy at <paramref name="now"/>.</summary>
    public void OnHealthy(DateTimeOffset now) => _healthySince ??= now;

    /// <summary>The node failed at <paramref name="now"/>; forgets the backoff if it had been stable long enough.</summary>
    public void OnFailure(DateTimeOffset now)
    {
        if (_healthySince is { } since && now - since >= options.StablePeriod)
        {
            _consecutive = 0;
        }

        _healthySince = null;
    }

    public bool IsLimitReached(DateTimeOffset now)
    {
        while (_recentRestarts.TryPeek(out var oldest) && now - oldest >= options.StartLimitInterval)
        {
            _recentRestarts.Dequeue();
        }

        return _recentRestarts.Count >= options.StartLimitBurst;
    }

    /// <summary>How long to wait before the next restart; <paramref name="jitter"/> is uniform in [0, 1).</summary>
    public TimeSpan NextDelay(double jitter)
    {
        if (_consecutive == 0)
        {
            return TimeSpan.Zero;
        }

        var exponent = Math.Min(_consecutive - 1, 30);
        var ticks = Math.Min(options.InitialBackoff.Ticks * Math.Pow(2, exponent), options.MaxBackoff.Ticks);
        // "Equal jitter": at least half the delay, so restarts never bunch up at zero.
        return TimeSpan.FromTicks((long)(ticks * (0.5 + (0.5 * Math.Clamp(jitter, 0, 1)))));
    }

    public void RecordRestart(DateTimeOffset now)
    {
        _recentRestarts.Enqueue(now);
        _consecutive++;
        _healthySince = null;
    }
}
