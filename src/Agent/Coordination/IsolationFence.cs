using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.Node;
using RedisAgent.Probing;
using RedisFailover.Protos;

namespace RedisAgent.Coordination;

/// <summary>
/// A primary that can see neither the coordinator nor any peer's Redis for
/// <see cref="CoordinatorOptions.SelfFenceAfter"/> is probably the one cut off: it fences itself
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
    Supervision.RestartLease lease,
    TimeProvider time,
    ILogger<IsolationFence> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (string.IsNullOrEmpty(options.Value.Url) || options.Value.SelfFenceAfter is not { } after)
        {
            return;
        }

        var lastContact = time.GetTimestamp();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                if (link.Connected || PeerAnsweredWithin(after))
                {
                    lastContact = time.GetTimestamp();
                    continue;
                }

                var alone = time.GetElapsedTime(lastContact);
                if (alone >= after && !control.Fenced && reports.Role == NodeRole.Primary)
                {
                    await FenceAsync(alone).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task FenceAsync(TimeSpan alone)
    {
        try
        {
            await control.FenceAsync().ConfigureAwait(false);
            lease.Void("this primary fenced itself, cut off from the coordinator and every peer; a restart waits for the coordinator's word");
            Log.SelfFenced(logger, alone.TotalSeconds);
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
        {
            Log.FenceFailed(logger, ex.Message);
        }
    }

    private bool PeerAnsweredWithin(TimeSpan window)
    {
        var now = time.GetUtcNow();
        return observations.Targets.Values.Any(t => !t.IsLocal && t.LastPort is { } port && now - port.At <= window
            && port.Outcome.ToWire().ProvesHostAlive());
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1608, Level = LogLevel.Critical, Message = "Fenced this primary (writes paused): neither the coordinator nor any peer has been reachable for {Seconds:0.#} s; only the coordinator lifts the fence")]
        public static partial void SelfFenced(ILogger logger, double seconds);

        [LoggerMessage(EventId = 1611, Level = LogLevel.Error, Message = "Could not fence this primary, cut off from the coordinator and every peer: {Error}; trying again")]
        public static partial void FenceFailed(ILogger logger, string error);
    }
}
