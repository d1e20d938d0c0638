using Microsoft.Extensions.Logging;
using RedisAgent.Node;

namespace RedisAgent.Probing;

/// <summary>
/// The cadence every probe loop shares: probe, then wait out the rest of the interval (the
/// shorter retry interval while the verdict is unsettled). Each loop runs on its own, so a slow
/// or silent target only ever delays itself.
/// </summary>
internal static partial class ProbeLoop
{
    /// <param name="probeOnce">One probe and its bookkeeping; returns whether the verdict is settled.</param>
    /// <param name="wakeup">When set, a wait between probes ends early once it is woken.</param>
    public static async Task RunAsync(
        string what,
        Func<CancellationToken, Task<bool>> probeOnce,
        TimeSpan interval,
        TimeSpan retryInterval,
        TimeProvider time,
        ILogger logger,
        CancellationToken stoppingToken,
        ProbeWakeup? wakeup = null)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var started = time.GetTimestamp();
            var settled = true;
            try
            {
                settled = await probeOnce(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.ProbeFailed(logger, what, ex.GetType().Name, ex.Message);
            }

            var wait = (settled ? interval : retryInterval) - time.GetElapsedTime(started);
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    if (wakeup is null)
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
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1099, Level = LogLevel.Error, Message = "The {What} probe loop failed and carries on: {Type}: {Message}")]
        public static partial void ProbeFailed(ILogger logger, string what, string type, string message);
    }
}

