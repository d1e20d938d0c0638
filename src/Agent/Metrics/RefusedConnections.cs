using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace RedisAgent.Metrics;

/// <summary>
/// Counts the HTTP connections Kestrel closes as they come because <c>Http:MaxConnections</c> are
/// open (its <c>kestrel.rejected_connections</c> instrument), for <c>/metrics</c>, and says so in the
/// log once a minute at most: Kestrel's own warning, one line per connection refused, would let a
/// flood of connections flood the journal too (its category is kept to errors).
/// </summary>
internal sealed partial class RefusedConnections(TimeProvider time, ILogger<RefusedConnections> logger) : IHostedService, IDisposable
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMinutes(1);

    private readonly Lock _lock = new();
    private IDisposable? _listener;
    private long _total;
    private Unsaid _whole;
    private Unsaid _fromOne;

    /// <summary>Connections refused since the agent started.</summary>
    public long Total => Interlocked.Read(ref _total);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _listener = RedisShared.Hosting.KestrelRejections.Listen(Refused);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _listener?.Dispose();

    /// <summary>
    /// A connection closed as it came because its client held <c>Http:MaxConnectionsPerClient</c>
    /// already: counted with the others, and said at most once a minute with the last such client.
    /// </summary>
    internal void RefusedFrom(System.Net.IPAddress client)
    {
        Interlocked.Increment(ref _total);
        if (Due(ref _fromOne, 1) is { } report)
        {
            Log.RefusingFromOne(logger, report, client.ToString());
        }
    }

    internal void Refused(long count)
    {
        Interlocked.Add(ref _total, count);
        if (Due(ref _whole, count) is { } report)
        {
            Log.Refusing(logger, report);
        }
    }

    /// <summary>Adds <paramref name="count"/> to what <paramref name="line"/> has not said; all of it, to say now, when its last was a minute ago or more.</summary>
    private long? Due(ref Unsaid line, long count)
    {
        lock (_lock)
        {
            line.Count += count;
            var now = time.GetTimestamp();
            if (line.SaidAt is { } at && time.GetElapsedTime(at, now) < Quiet)
            {
                return null;
            }

            var report = line.Count;
            line = new Unsaid { SaidAt = now };
            return report;
        }
    }

    /// <summary>What one of the lines has counted since it was last said, and when that was.</summary>
    private struct Unsaid
    {
        public long Count;
        public long? SaidAt;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1041, Level = LogLevel.Warning, Message = "{Count} HTTP connection(s) refused since the last such line (at most one a minute): the most the endpoints hold open are open (Http:MaxConnections, or fewer under the open-file limit: event 1040); the agent's probes and Redis are not affected")]
        public static partial void Refusing(ILogger logger, long count);

        [LoggerMessage(EventId = 1042, Level = LogLevel.Warning, Message = "{Count} HTTP connection(s) refused since the last such line (at most one a minute) because their client held Http:MaxConnectionsPerClient open already, the last from {Client}; other clients are not affected")]
        public static partial void RefusingFromOne(ILogger logger, long count, string client);
    }
}
