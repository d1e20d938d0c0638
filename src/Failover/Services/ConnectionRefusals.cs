using Microsoft.Extensions.Hosting;

namespace RedisFailover.Services;

/// <summary>
/// Connections Kestrel closes as they come because the gRPC endpoints hold <c>Failover:MaxConnections</c>
/// (or their share under the open-file limit, event 2092): refusals like any other, counted in
/// <c>redis_failover_refused_calls_total</c> and said once a minute (event 2006) instead of Kestrel's
/// line for each.
/// </summary>
internal sealed class ConnectionRefusals(RefusalLog refusals) : IHostedService, IDisposable
{
    /// <summary>The caller named in the log: Kestrel's count does not say who was refused.</summary>
    public const string Caller = "a new connection";

    private IDisposable? _listener;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _listener = RedisShared.Hosting.KestrelRejections.Listen(count =>
        {
            for (var i = 0; i < count; i++)
            {
                refusals.Refused(Caller, "closed as it came: the gRPC endpoints hold the most connections they may (Failover:MaxConnections, or fewer under the open-file limit)");
            }
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _listener?.Dispose();
}
