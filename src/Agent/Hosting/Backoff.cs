namespace RedisAgent.Hosting;

/// <summary>
/// How long a loop that lost its peer (a coordinator, a syslog drain) waits before it tries again:
/// a step that doubles up to a cap and returns to its start after a success, each wait between half
/// and all of the step ("equal jitter"), so that a fleet that lost the same peer does not come back
/// in one burst, and never waits nothing.
/// </summary>
internal sealed class Backoff(TimeSpan initial, TimeSpan max, Func<double>? jitter = null)
{
    private readonly TimeSpan _initial = initial;
    private readonly Func<double> _jitter = jitter ?? Random.Shared.NextDouble;

    /// <summary>The step the next wait is drawn from (between half of it and all of it); what a log line calls "about".</summary>
    public TimeSpan Step { get; private set; } = initial;

    /// <summary>The peer answered: the next loss waits the shortest step again.</summary>
    public void Reset() => Step = _initial;

    /// <summary>A refusal that retrying soon would not cure (bad credentials): the next wait is drawn from <paramref name="step"/>.</summary>
    public void Hold(TimeSpan step) => Step = step;

    /// <summary>The wait to take now; the step doubles for the one after, up to the cap.</summary>
    public TimeSpan Next()
    {
        var wait = Step * (0.5 + (0.5 * Math.Clamp(_jitter(), 0, 1)));
        Step = TimeSpan.FromTicks(Math.Min(Step.Ticks * 2, max.Ticks));
        return wait;
    }

    /// <summary>Waits <see cref="Next"/>; false when <paramref name="stoppingToken"/> ends the wait.</summary>
    public async Task<bool> WaitAsync(TimeProvider time, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(Next(), time, stoppingToken).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
