using Google.Protobuf;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisFailover.Hosting;
using RedisFailover.Store;

namespace RedisFailover.Leadership;

/// <summary>
/// Leadership in etcd, Patroni's leader key: <c>{prefix}/leader</c> is created only if absent, on a
/// lease of <see cref="EtcdOptions.LeaderTtl"/>, and renewed every quarter of it. Its value names
/// this coordinator, this leadership (a campaign number) and the URL agents reach it at; every
/// decision the store writes is a transaction conditioned on that value (<see cref="Condition"/>).
/// <para>
/// The leader stops deciding by its own clock: <see cref="Leads"/> turns false two thirds of the
/// TTL after the last renewal that etcd confirmed was <em>sent</em>, so before etcd could have let
/// the key expire and another coordinator take it, whatever the pauses or partitions in between.
/// A follower asks again every half second, and so leads within about the TTL of a leader's death.
/// </para>
/// </summary>
internal sealed partial class EtcdLeadership : BackgroundService, ILeadership
{
    private readonly EtcdConnection _etcd;
    private readonly EtcdOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _key;
    private readonly string _id = Guid.NewGuid().ToString("N")[..12];
    private readonly string _url;
    private readonly Lock _lock = new();
    private long _campaign;
    private long _lease;
    private string? _value;
    private long _deadline;
    private string? _leaderUrl;
    private string _describe = "not leading yet";
    private DateTimeOffset _lastUnreachableLog = DateTimeOffset.MinValue;

    public EtcdLeadership(EtcdConnection etcd, IOptions<FailoverOptions> options, Microsoft.Extensions.Configuration.IConfiguration configuration, TimeProvider time, ILogger<EtcdLeadership> logger)
    {
        _etcd = etcd;
        _options = options.Value.Etcd;
        // A resource's step waits for etcd's answer to its writes (under the resource's lock, a
        // millisecond on a LAN): with the pool's default of one thread per core, a few such waits
        // starve the very completions they wait for, and requests run into their deadlines. Seen:
        // history reads timing out. Threads enough for every resource's write in flight at once.
        ThreadPool.GetMinThreads(out var workers, out var completions);
        ThreadPool.SetMinThreads(Math.Max(workers, 64), Math.Max(completions, 64));
        _time = time;
        _logger = logger;
        _key = _options.Prefix + "/leader";
        _url = _options.AdvertiseUrl is { Length: > 0 } advertised ? advertised
            : (configuration["Urls"] ?? FailoverHost.DefaultUrls).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).First();
    }

    /// <summary>The connection is this leadership's own (the host gives it one): disposed with it.</summary>
    public override void Dispose()
    {
        base.Dispose();
        _etcd.Dispose();
    }

    /// <summary>This coordinator's URL, as the leader key tells the others.</summary>
    public string Url => _url;

    public bool Leads
    {
        get
        {
            lock (_lock)
            {
                return _value is not null && _time.GetTimestamp() < _deadline;
            }
        }
    }

    public string? LeaderUrl
    {
        get
        {
            lock (_lock)
            {
                return _value is null ? _leaderUrl : null;
            }
        }
    }

    public string Describe
    {
        get
        {
            lock (_lock)
            {
                return Leads ? $"leading ({_url}, campaign {_campaign})" : _describe;
            }
        }
    }

    public Etcdserverpb.Compare? Condition
    {
        get
        {
            lock (_lock)
            {
                return _value is null ? null : new Etcdserverpb.Compare
                {
                    Key = ByteString.CopyFromUtf8(_key),
                    Target = Etcdserverpb.Compare.Types.CompareTarget.Value,
                    Result = Etcdserverpb.Compare.Types.CompareResult.Equal,
                    Value = ByteString.CopyFromUtf8(_value),
                };
            }
        }
    }

    /// <summary>The TTL etcd counts, in whole seconds.</summary>
    private long TtlSeconds => (long)Math.Ceiling(_options.LeaderTtl.TotalSeconds);

    /// <summary>How long after a renewal was sent this coordinator still decides: two thirds of the TTL.</summary>
    private TimeSpan Grace => _options.LeaderTtl * 2 / 3;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Log.Campaigning(_logger, _url, _etcd.Describe, _options.LeaderTtl.TotalSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan wait;
            try
            {
                wait = _value is null ? await CampaignAsync(stoppingToken).ConfigureAwait(false) : await RenewAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                wait = TimeSpan.FromMilliseconds(250);
                if (_value is not null && !Leads)
                {
                    StepDown($"the leader key could not be renewed for {Grace.TotalSeconds:0.#} s ({ex.Message})");
                }
                else if (_value is null)
                {
                    lock (_lock)
                    {
                        _describe = $"not leading: etcd does not answer ({ex.Message})";
                    }

                    var now = _time.GetUtcNow();
                    if (now - _lastUnreachableLog >= TimeSpan.FromSeconds(30))
                    {
                        // Once, then once every 30 s: an etcd that stays away must not fill the log.
                        _lastUnreachableLog = now;
                        Log.EtcdUnreachable(_logger, _etcd.Describe, ex.Message);
                    }
                }
            }

            try
            {
                await Task.Delay(wait, _time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        long lease;
        lock (_lock)
        {
            lease = _value is null ? 0 : _lease;
            _value = null;
        }

        if (lease != 0)
        {
            // A clean stop hands over at once: the key goes with its lease, and another leads within half a second.
            try
            {
                await _etcd.LeaseRevokeAsync(lease, cancellationToken).ConfigureAwait(false);
                Log.Resigned(_logger, _url);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
            }
        }
    }

    private async Task<TimeSpan> CampaignAsync(CancellationToken cancellationToken)
    {
        var granted = await _etcd.LeaseGrantAsync(TtlSeconds, cancellationToken).ConfigureAwait(false);
        var campaign = Interlocked.Increment(ref _campaign);
        var value = $"{_id}/{campaign} {_url}";
        var sent = _time.GetTimestamp();
        var txn = new Etcdserverpb.TxnRequest();
        txn.Compare.Add(new Etcdserverpb.Compare
        {
            Key = ByteString.CopyFromUtf8(_key),
            Target = Etcdserverpb.Compare.Types.CompareTarget.Create,
            Result = Etcdserverpb.Compare.Types.CompareResult.Equal,
            CreateRevision = 0,
        });
        txn.Success.Add(new Etcdserverpb.RequestOp { RequestPut = new Etcdserverpb.PutRequest { Key = ByteString.CopyFromUtf8(_key), Value = ByteString.CopyFromUtf8(value), Lease = granted.ID } });
        txn.Failure.Add(new Etcdserverpb.RequestOp { RequestRange = new Etcdserverpb.RangeRequest { Key = ByteString.CopyFromUtf8(_key) } });
        Etcdserverpb.TxnResponse reply;
        try
        {
            reply = await _etcd.TxnAsync(txn, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await RevokeQuietlyAsync(granted.ID).ConfigureAwait(false);
            throw;
        }

        if (reply.Succeeded)
        {
            lock (_lock)
            {
                _lease = granted.ID;
                _value = value;
                _deadline = sent + (long)(Grace.TotalSeconds * _time.TimestampFrequency);
                _leaderUrl = null;
            }

            Log.Leading(_logger, _url, campaign, _options.LeaderTtl.TotalSeconds);
            return _options.LeaderTtl / 4;
        }

        await RevokeQuietlyAsync(granted.ID).ConfigureAwait(false);
        var current = reply.Responses.FirstOrDefault()?.ResponseRange?.Kvs.FirstOrDefault()?.Value.ToStringUtf8();
        var leaderUrl = current?.Split(' ', 2) is [_, var url] ? url : null;
        bool changed;
        lock (_lock)
        {
            changed = _leaderUrl != leaderUrl;
            _leaderUrl = leaderUrl;
            _describe = leaderUrl is null ? "following" : $"following the leader at {leaderUrl}";
        }

        if (changed && leaderUrl is not null)
        {
            Log.Following(_logger, leaderUrl);
        }

        return TimeSpan.FromMilliseconds(500);
    }

    private async Task<TimeSpan> RenewAsync(CancellationToken cancellationToken)
    {
        long lease;
        lock (_lock)
        {
            lease = _lease;
        }

        var sent = _time.GetTimestamp();
        var ttl = await _etcd.KeepAliveAsync(lease, cancellationToken).ConfigureAwait(false);
        if (ttl <= 0)
        {
            StepDown("etcd says the leader key's lease is gone");
            return TimeSpan.FromMilliseconds(100);
        }

        lock (_lock)
        {
            if (_value is not null && _lease == lease)
            {
                _deadline = Math.Max(_deadline, sent + (long)(Grace.TotalSeconds * _time.TimestampFrequency));
            }
        }

        return _options.LeaderTtl / 4;
    }

    /// <summary>Stops deciding: the coordinator sees <see cref="Leads"/> false on its next tick and lets go of every resource.</summary>
    public void StepDown(string why)
    {
        long lease;
        lock (_lock)
        {
            if (_value is null)
            {
                return;
            }

            lease = _lease;
            _value = null;
            _describe = "not leading: " + why;
        }

        Log.SteppedDown(_logger, _url, why);
        _ = RevokeQuietlyAsync(lease);
    }

    private async Task RevokeQuietlyAsync(long lease)
    {
        try
        {
            await _etcd.LeaseRevokeAsync(lease).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // It expires on its own.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2060, Level = LogLevel.Information, Message = "Campaigning for leadership as {Url} in {Etcd} (leader key TTL {Ttl} s)")]
        public static partial void Campaigning(ILogger logger, string url, string etcd, double ttl);

        [LoggerMessage(EventId = 2061, Level = LogLevel.Warning, Message = "Leading, as {Url} (campaign {Campaign}): this coordinator decides until it cannot renew the leader key for two thirds of its {Ttl} s TTL")]
        public static partial void Leading(ILogger logger, string url, long campaign, double ttl);

        [LoggerMessage(EventId = 2062, Level = LogLevel.Information, Message = "Following the leader at {Url}: agents and operators are sent there")]
        public static partial void Following(ILogger logger, string url);

        [LoggerMessage(EventId = 2063, Level = LogLevel.Error, Message = "No longer leading ({Url}): {Why}. Commands stop now; agents are sent to whoever leads next")]
        public static partial void SteppedDown(ILogger logger, string url, string why);

        [LoggerMessage(EventId = 2067, Level = LogLevel.Error, Message = "Cannot campaign: {Etcd} does not answer: {Error}. No decision is made until it does")]
        public static partial void EtcdUnreachable(ILogger logger, string etcd, string error);

        [LoggerMessage(EventId = 2064, Level = LogLevel.Information, Message = "Resigned leadership ({Url}) on stop: the leader key is released for the others")]
        public static partial void Resigned(ILogger logger, string url);
    }
}
