using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisFailover.Hosting;
using RedisFailover.Store;

namespace RedisFailover.Coordination;

/// <summary>Every resource's coordinator, built from the configuration and the store, and the clock that ticks them.</summary>
internal sealed partial class Coordinator : BackgroundService
{
    private readonly Dictionary<string, ResourceCoordinator> _resources = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly PrimaryPublisher _publisher;

    public Coordinator(IOptions<FailoverOptions> options, IOptions<ResourcesOptions> resources, FileStore store, PrimaryPublisher publisher, TimeProvider time, ILoggerFactory loggers)
    {
        _time = time;
        _logger = loggers.CreateLogger<Coordinator>();
        _publisher = publisher;
        foreach (var resource in resources.Value.Items)
        {
            var record = store.Load(resource.Name!);
            var machine = new ResourceMachine(
                resource.Name!,
                [.. resource.Nodes.Select(n => new NodeSpec(n.Name!, n.Address!, n.Zone))],
                options.Value.Policy,
                record.Term,
                record.Primary,
                new ResourceSettings(record.TimeoutSeconds ?? resource.Timeout, record.MaxMemoryPolicy ?? resource.MaxmemoryPolicy),
                record.Paused);
            _resources[resource.Name!] = new ResourceCoordinator(machine, store, publisher, time, loggers.CreateLogger("RedisFailover.Resource"));
            if (record.Primary is { } primary && machine.PrimaryAddress is { } address)
            {
                // A restarted coordinator tells watchers and the URL file what it knew.
                _ = publisher.Publish(resource.Name!, primary, address, record.Term);
            }
        }
    }

    public ResourceCoordinator? this[string resource] => _resources.GetValueOrDefault(resource);

    public IEnumerable<ResourceCoordinator> Resources => _resources.Values;

    /// <summary>When the last tick of every resource finished (the systemd watchdog's measure of progress).</summary>
    public DateTimeOffset LastTick { get; private set; } = DateTimeOffset.MinValue;

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _publisher.HooksFinishedAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout ran out first: the hooks are left to finish on their own.
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                foreach (var resource in _resources.Values)
                {
                    try
                    {
                        resource.Retry();
                        resource.Step((machine, now) => machine.Tick(now));
                    }
                    catch (Exception ex)
                    {
                        // One resource's fault must stop neither the others nor the clock (and never the
                        // host: a BackgroundService that throws ends the process with exit code 0).
                        Log.TickFailed(_logger, resource.Name, ex.GetType().Name, ex.Message);
                    }
                }

                _publisher.RetryFiles();
                LastTick = _time.GetUtcNow();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2033, Level = LogLevel.Error, Message = "{Resource}: a tick failed and is skipped: {Type}: {Message}")]
        public static partial void TickFailed(ILogger logger, string resource, string type, string message);
    }
}
