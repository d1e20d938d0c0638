namespace RedisAgent.Node;

/// <summary>Lets one loop cut another's wait short: the port loop wakes the host loop when the port goes silent.</summary>
internal sealed class ProbeWakeup
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Wake()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already woken: once is enough.
        }
    }

    /// <summary>Waits for <paramref name="timeout"/> or until woken, whichever comes first.</summary>
    public async Task WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var woken = _signal.WaitAsync(linked.Token);
        var elapsed = Task.Delay(timeout, time, linked.Token);
        await Task.WhenAny(woken, elapsed).ConfigureAwait(false);
        await linked.CancelAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        if (woken.IsCompletedSuccessfully)
        {
            return;
        }

        try
        {
            await woken.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The timeout won; the semaphore was not taken.
        }
    }
}
