using Microsoft.Extensions.Logging;
using RedisAgent.Node;

namespace RedisAgent.Probing;

/// <summary>
/// The cadence every probe loop shares: probe, then wait out the rest of the interval (the
/// shorter retry interval while the verdict is unsettled). Each loop runs on its own, so a slow
/// or silent target only ever delays itself.
/// </summary>
/// <remarks>
/// A loop given a timeout makes each probe's deadline itself (one timer from the probe's start)
/// and hands it to the probe. When the wait that follows would end at that same moment (the
/// defaults: a 1 s timeout and a 1 s interval), the loop waits for the deadline rather than
/// starting a second timer: a timer costs an idle process its wake-ups (the timer thread's, a pool
/// thread's, and a second of the timer thread's for a deadline cancelled before it was due), and
/// this one was due then anyway.
/// </remarks>
internal static partial class ProbeLoop
{
    /// <param name="probeOnce">One probe and its bookkeeping, given its deadline (cancelled <paramref name="timeout"/> after it began; never, without one) and the stopping token; returns whether the verdict is settled.</param>
    /// <param name="wakeup">When set, a wait between probes ends early once it is woken.</param>
    /// <param name="timeout">How long one probe may take; null when the probe keeps its own time.</param>
    public static async Task RunAsync(
        string what,
        Func<CancellationToken, CancellationToken, Task<bool>> probeOnce,
        TimeSpan interval,
        TimeSpan retryInterval,
        TimeProvider time,
        ILogger logger,
        CancellationToken stoppingToken,
        ProbeWakeup? wakeup = null,
        TimeSpan? timeout = null)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var started = time.GetTimestamp();
            using var deadline = timeout is { } limit ? new CancellationTokenSource(limit, time) : null;
            var settled = true;
            try
            {
                settled = await probeOnce(deadline?.Token ?? CancellationToken.None, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.ProbeFailed(logger, what, ex.GetType().Name, ex.Message);
            }

            var period = settled ? interval : retryInterval;
            var wait = period - time.GetElapsedTime(started);
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    if (deadline is not null && wakeup is null && timeout == period)
                    {
                        // The deadline falls when the next probe is due: its timer ends the wait.
                        using var either = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, stoppingToken);
                        await Task.Delay(Timeout.InfiniteTimeSpan, time, either.Token).ConfigureAwait(false);
                    }
                    else if (wakeup is null)
                    {
                        await Task.Delay(wait, time, stoppingToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await wakeup.WaitAsync(wait, time, stoppingToken).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
                catch (OperationCanceledException)
                {
                    // The deadline fell: the next probe is due.
                }
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1099, Level = LogLevel.Error, Message = "The {What} probe loop failed and carries on: {Type}: {Message}")]
        public static partial void ProbeFailed(ILogger logger, string what, string type, string message);
    }
}

