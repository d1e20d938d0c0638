using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisFailover.Hosting;
using RedisFailover.Leadership;
using RedisFailover.Store;

namespace RedisFailover.Coordination;

/// <summary>
/// Every resource's coordinator, built from the configuration and the store while this coordinator
/// leads, and the clock that ticks them. With the file store it always leads. With etcd, each
/// leadership starts from what etcd holds: every resource's term goes up by one (a fencing token
/// the agents check: a command of the old leader's term is refused), and the journal says who
/// leads; when leadership ends, every resource is let go and every agent stream cut, so that the
/// agents go to the new leader.
/// </summary>
internal sealed partial class Coordinator : BackgroundService
{
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggers;
    private readonly PrimaryPublisher _publisher;
    private readonly ICoordinatorStore _store;
    private readonly ILeadership _leadership;
    private readonly FailoverOptions _options;
    private readonly IReadOnlyList<ResourceOptions> _configured;
    private volatile Dictionary<string, ResourceCoordinator> _resources = new(StringComparer.Ordinal);

    private readonly Decisions? _decisions;

    public Coordinator(IOptions<FailoverOptions> options, IOptions<ResourcesOptions> resources, ICoordinatorStore store, PrimaryPublisher publisher, TimeProvider time, ILoggerFactory loggers, ILeadership? leadership = null, Decisions? decisions = null)
    {
        _decisions = decisions;
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger<Coordinator>();
        _publisher = publisher;
        _store = store;
        _options = options.Value;
        _configured = resources.Value.Items;
        _leadership = leadership ?? new SoleLeadership();
        if (_leadership is SoleLeadership)
        {
            // The only coordinator: its resources exist from the start (a record that cannot be read stops it here, named).
            _resources = Build(takeUp: false);
        }
    }

    public ResourceCoordinator? this[string resource] => _resources.GetValueOrDefault(resource);

    public IEnumerable<ResourceCoordinator> Resources => _resources.Values;

    /// <summary>The names of the configured resources, led or not.</summary>
    public IEnumerable<string> Configured => _configured.Select(r => r.Name!);

    public ILeadership Leadership => _leadership;

    /// <summary>When the last tick of every resource finished (the systemd watchdog's measure of progress).</summary>
    public DateTimeOffset LastTick { get; private set; } = DateTimeOffset.MinValue;

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Writes handed to the store's group commit are answered (and what waited on them carried out) before the store goes.
            await Task.WhenAll(_resources.Values.Select(r => r.WritesDone)).WaitAsync(cancellationToken).ConfigureAwait(false);
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
                FollowLeadership();
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

                WriteChangedRecords();
                _publisher.RetryFiles();
                LastTick = _time.GetUtcNow();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// The records whose in-sync set changed in this tick, written together: <see cref="RecordBatch"/>
    /// to a store write (one etcd transaction), not one write each. A fleet coming up changes every
    /// resource's at once; written one by one under each resource's lock, they held the clock for
    /// seconds. A batch refused is written resource by resource, as any held effect is.
    /// </summary>
    private void WriteChangedRecords()
    {
        List<(ResourceCoordinator Resource, ResourceRecord Record)>? changed = null;
        foreach (var resource in _resources.Values)
        {
            if (resource.TakeDirtyRecord() is { } record)
            {
                (changed ??= []).Add((resource, record));
            }
        }

        if (changed is null)
        {
            return;
        }

        foreach (var batch in changed.Chunk(RecordBatch))
        {
            try
            {
                _store.SaveAll([.. batch.Select(b => (b.Resource.Name, b.Record))]);
                foreach (var (resource, record) in batch)
                {
                    resource.RecordWritten(record);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Log.BatchRefused(_logger, batch.Length, ex.Message);
                foreach (var (resource, _) in batch)
                {
                    try
                    {
                        resource.RecordNotWritten();
                    }
                    catch (Exception failed)
                    {
                        Log.TickFailed(_logger, resource.Name, failed.GetType().Name, failed.Message);
                    }
                }
            }
        }
    }

    /// <summary>Records to one store write: etcd allows 128 operations in a transaction, and each record takes two (its condition and its put).</summary>
    internal const int RecordBatch = 40;

    /// <summary>Takes up every resource when leadership begins; lets every one go when it ends.</summary>
    private void FollowLeadership()
    {
        if (_leadership is SoleLeadership)
        {
            return;
        }

        var leads = _leadership.Leads;
        if (!leads && _resources.Count > 0)
        {
            var held = _resources;
            _resources = new(StringComparer.Ordinal);
            foreach (var resource in held.Values)
            {
                resource.LetGo("this coordinator no longer leads");
            }

            Log.LetGo(_logger, held.Count, _leadership.Describe);
        }
        else if (leads && _resources.Count == 0)
        {
            try
            {
                (_store as EtcdStore)?.Forget();
                _resources = Build(takeUp: true);
            }
            catch (Exception ex) when (ex is IOException or StoreException)
            {
                // Not one decision is made on a partial picture: tried again on the next tick, while it leads.
                Log.TakeUpFailed(_logger, ex.Message);
                _resources = new(StringComparer.Ordinal);
            }
        }
    }

    /// <param name="takeUp">A new etcd leadership: every term raised and journalled first (<see cref="EtcdStore.TakeUp"/>).</param>
    private Dictionary<string, ResourceCoordinator> Build(bool takeUp)
    {
        var built = new Dictionary<string, ResourceCoordinator>(StringComparer.Ordinal);
        var taken = takeUp ? ((EtcdStore)_store).TakeUp([.. _configured.Select(r => r.Name!)], _time.GetUtcNow(), _leadership.Describe) : null;
        for (var index = 0; index < _configured.Count; index++)
        {
            var resource = _configured[index];
            var name = resource.Name!;
            var record = taken is not null ? taken[name] : _store.Load(name);
            var configured = DesiredState.Configured(resource);
            var desired = DesiredState.Resolve(record, configured, index);
            foreach (var overridden in desired.Overridden)
            {
                Log.ConfigurationOverridden(_logger, name, overridden);
            }

            var machine = new ResourceMachine(
                name,
                desired.Nodes,
                _options.Policy,
                record.Term,
                record.Primary,
                desired.Settings,
                record.Paused,
                record.InSync,
                desired.Origins);
            var coordinator = built[name] = new ResourceCoordinator(machine, _store, _publisher, _time, _loggers.CreateLogger("RedisFailover.Resource"), () => _leadership.Leads, configured, _decisions);
            if (desired.Taken.Count > 0)
            {
                foreach (var change in desired.Taken)
                {
                    Log.ConfigurationTaken(_logger, name, change);
                }

                // Journalled and written at once, so that the next start sees the configuration it took.
                coordinator.Step((m, _) => [.. desired.Taken.Select(t => new JournalLine("configuration", t, m.Term)), new PersistTerm(m.Term, m.Primary)]);
            }

            if (record.Primary is { } primary && machine.PrimaryAddress is { } address)
            {
                // A restarted (or newly leading) coordinator tells watchers and the URL file what it knows.
                _ = _publisher.Publish(name, primary, address, record.Term);
            }
        }

        return built;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2033, Level = LogLevel.Error, Message = "{Resource}: a tick failed and is skipped: {Type}: {Message}")]
        public static partial void TickFailed(ILogger logger, string resource, string type, string message);

        [LoggerMessage(EventId = 2034, Level = LogLevel.Warning, Message = "A batch of {Count} records whose in-sync set changed was refused ({Error}): each is written on its own")]
        public static partial void BatchRefused(ILogger logger, int count, string error);

        [LoggerMessage(EventId = 2065, Level = LogLevel.Warning, Message = "Let go of {Count} resources: {Why}; their agents' streams are cut so that they find the leader")]
        public static partial void LetGo(ILogger logger, int count, string why);

        [LoggerMessage(EventId = 2090, Level = LogLevel.Warning, Message = "{Resource}: {Text}")]
        public static partial void ConfigurationOverridden(ILogger logger, string resource, string text);

        [LoggerMessage(EventId = 2091, Level = LogLevel.Warning, Message = "{Resource}: the configuration is in force: {Text}")]
        public static partial void ConfigurationTaken(ILogger logger, string resource, string text);

        [LoggerMessage(EventId = 2066, Level = LogLevel.Error, Message = "Leading, but the resources could not be taken up from the store: {Error}. Tried again in 100 ms")]
        public static partial void TakeUpFailed(ILogger logger, string error);
    }
}
