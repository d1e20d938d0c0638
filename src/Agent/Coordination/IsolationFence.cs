using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.Node;
using RedisAgent.Probing;
using RedisAgent.Sampling;
using RedisFailover.Protos;

namespace RedisAgent.Coordination;

/// <summary>
/// A primary that can see neither the coordinator nor any peer's Redis for
/// <see cref="CoordinatorOptions.FenceAfter"/> (on by default: two report intervals) is probably the one cut off: it fences itself
/// (writes refused), so that once the others promote a new primary the old one accepts nothing.
/// Only the coordinator lifts the fence (Unfence, Promote or ReplicateFrom). Any answer only a live
/// host gives (<see cref="Vocabulary.ProvesHostAlive(PortOutcome)"/>) from a peer counts as contact.
/// </summary>
internal sealed partial class IsolationFence(
    IOptions<CoordinatorOptions> options,
    LinkState link,
    ObservationBook observations,
    ReportBuilder reports,
    NodeControl control,
    SampleBook samples,
    RedisEndpoint endpoint,
    Supervision.RestartLease lease,
    TimeProvider time,
    ILogger<IsolationFence> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (string.IsNullOrEmpty(options.Value.Url) || options.Value.FenceAfter is not { } after)
        {
            return;
        }

        var started = time.GetUtcNow();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var alone = Alone(started);
                if (alone < after)
                {
                    // Nothing can fence before the rest of the time has passed: every sign of anyone
                    // only puts that moment later. A stream that closes ends the wait early (the
                    // coordinator's last word no longer counts), and the wait is never longer than
                    // LongestWait, so that anything else that changes who is seen is looked at soon.
                    await link.Lost.WaitAsync(Max(Min(after - alone, LongestWait), TimeSpan.FromMilliseconds(1)), time, stoppingToken).ConfigureAwait(false);
                    continue;
                }

                // Not when the coordinator's last word was that no standby is in sync: nobody could
                // be promoted in this primary's place, so a fence would cost its writes and save none.
                if (!control.Fenced && reports.Role == NodeRole.Primary && !lease.NoStandby)
                {
                    await FenceAsync(alone).ConfigureAwait(false);
                }

                // Cut off: looked at again shortly, for a role, a lease or a fence that changed.
                await Task.Delay(CutOffRecheck, time, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>The longest the fence sleeps while someone was seen recently (it wakes at the moment it could be due, or at a closed stream, before that).</summary>
    internal static readonly TimeSpan LongestWait = TimeSpan.FromSeconds(1);

    /// <summary>How often a node already cut off is looked at again (its role, its lease, whether it is fenced).</summary>
    internal static readonly TimeSpan CutOffRecheck = TimeSpan.FromMilliseconds(100);

    private async Task FenceAsync(TimeSpan alone)
    {
        try
        {
            var config = samples.Last?.Config;
            var local = LocalRoute.From(endpoint, config?.UnixSocket, config?.Bind);
            var route = await control.SelfFenceAsync(local, time.GetUtcNow()).ConfigureAwait(false);
            lease.Void("this primary fenced itself, cut off from the coordinator and every peer; a restart waits for the coordinator's word");
            Log.SelfFenced(logger, alone.TotalSeconds, route);
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException or IOException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            Log.FenceFailed(logger, ex.Message);
        }
    }

    /// <summary>
    /// How long since the last sign of anyone: the coordinator heard (it acknowledges every report, so
    /// a connection gone silent shows within a report interval, long before HTTP/2's ping timeout),
    /// or a peer's host answering a port probe. The fence follows the cut by Coordinator:SelfFenceAfter,
    /// not by that plus a detection delay.
    /// </summary>
    private TimeSpan Alone(DateTimeOffset started)
    {
        var now = time.GetUtcNow();
        var alone = now - started;
        if (link.Connected && link.LastHeard != 0)
        {
            alone = Min(alone, time.GetElapsedTime(link.LastHeard));
        }

        foreach (var target in observations.Targets.Values)
        {
            if (!target.IsLocal && target.LastAnswer is { } answered)
            {
                alone = Min(alone, now - answered);
            }
        }

        return alone;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static partial class Log
    {
        [LoggerMessage(EventId = 1608, Level = LogLevel.Critical, Message = "This agent's own decision: fenced its primary (writes paused) over {Route}, since neither the coordinator nor any peer has been reachable for {Seconds:0.#} s; only the coordinator lifts the fence")]
        public static partial void SelfFenced(ILogger logger, double seconds, string route);

        [LoggerMessage(EventId = 1611, Level = LogLevel.Error, Message = "Could not fence this primary, cut off from the coordinator and every peer: {Error}; trying again")]
        public static partial void FenceFailed(ILogger logger, string error);
    }
}
