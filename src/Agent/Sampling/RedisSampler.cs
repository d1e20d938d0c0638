using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.Node;
using StackExchange.Redis;

namespace RedisAgent.Sampling;

/// <summary>
/// Reads <c>INFO ALL</c> and <c>CONFIG GET</c> over one persistent, named connection every
/// <see cref="SamplingOptions.Interval"/>. The supervisor takes its facts (role, replicas,
/// persistence) from it, so it knows them when the node dies and cannot be asked any more; the
/// metrics and the metrics log line serve the last sample, so a scrape never touches Redis.
/// </summary>
internal sealed partial class RedisSampler(
    RedisConnection connection,
    NodeStatus status,
    SampleBook book,
    SecretRedactor redactor,
    IOptions<SamplingOptions> options,
    TimeProvider time,
    ILogger<RedisSampler> logger) : BackgroundService
{
    /// <summary>The settings read with CONFIG GET: one command for all of them from Redis 7, one pipelined request each before.</summary>
    private static readonly string[] ConfigKeys = ["maxclients", "maxmemory", "maxmemory-policy", "timeout", "save", "appendfsync", "unixsocket", "bind", "min-replicas-to-write", "databases", "dir"];

    private readonly SamplingOptions _options = options.Value;
    private bool _configUnavailable;
    private bool _slowlogUnavailable;
    private bool _clusterInfoUnavailable;
    private bool _wasFailing;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // Made inside the loop, so that even a failure to connect only delays the sample.
                var sample = await SampleAsync(await connection.ServerAsync().ConfigureAwait(false)).ConfigureAwait(false);
                book.Succeeded(sample);
                status.SetFacts(InfoParser.ToFacts(sample.Info, sample.Config?.Save, sample.At, sample.Config?.AppendFsync, sample.Config?.MinReplicasToWrite));
                if (_wasFailing)
                {
                    _wasFailing = false;
                    Log.SamplingResumed(logger);
                }
            }
            catch (ReplyTooLargeException tooLarge)
            {
                // The client library reads a reply whole before anything can refuse it: asking
                // again every second would allocate that much every second. Ask seldom instead.
                book.Failed(time.GetUtcNow(), tooLarge.Message);
                _wasFailing = true;
                Log.ReplyTooLarge(logger, tooLarge.Length, tooLarge.Limit, RefusedReplyBackoff.TotalSeconds);
                await DelayAsync(RefusedReplyBackoff, stoppingToken).ConfigureAwait(false);
                continue;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // The probe loop judges the node; a failing sample only means the facts age (and
                // redis_up says 0 with the sample's age beside it).
                var message = redactor.Redact(ex.Message);
                book.Failed(time.GetUtcNow(), message);
                if (!_wasFailing)
                {
                    _wasFailing = true;
                    Log.SamplingFailed(logger, message);
                }
            }

            await DelayAsync(_options.Interval, stoppingToken).ConfigureAwait(false);
        }
    }

    /// <summary>How long the sampler waits after refusing an oversized reply.</summary>
    internal static readonly TimeSpan RefusedReplyBackoff = TimeSpan.FromSeconds(30);

    private async Task DelayAsync(TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(delay, time, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The loop's condition ends it.
        }
    }

    private sealed class ReplyTooLargeException(int length, int limit)
        : Exception($"the INFO reply is {length} bytes, over Sampling:MaxReplyBytes ({limit}); not parsed")
    {
        public int Length { get; } = length;

        public int Limit { get; } = limit;
    }

    private async Task<RedisSample> SampleAsync(IServer server)
    {
        var at = time.GetUtcNow();
        var started = time.GetTimestamp();
        var infoTask = server.InfoRawAsync("all");
        var configTask = _configUnavailable ? null : ConfigAsync(server);
        var slowlogTask = _slowlogUnavailable ? null : SlowlogAsync(server);
        var raw = await infoTask.ConfigureAwait(false) ?? "";
        if (raw.Length > _options.MaxReplyBytes)
        {
            // Not parsed, not kept: a reply this size is no Redis's INFO (a hostile or broken server).
            throw new ReplyTooLargeException(raw.Length, _options.MaxReplyBytes);
        }

        var info = InfoParser.Parse(raw);
        RedisConfigValues? config = null;
        if (configTask is not null)
        {
            try
            {
                var values = await configTask.ConfigureAwait(false);

                config = new RedisConfigValues(
                    Long(values, "maxclients"), Long(values, "maxmemory"), values.GetValueOrDefault("maxmemory-policy"), Long(values, "timeout"),
                    values.TryGetValue("save", out var save) ? save : "",
                    values.GetValueOrDefault("appendfsync"),
                    values.GetValueOrDefault("unixsocket"),
                    values.GetValueOrDefault("bind"),
                    Long(values, "min-replicas-to-write"),
                    Long(values, "databases"),
                    values.GetValueOrDefault("dir"));
            }
            catch (RedisServerException ex)
            {
                // Managed and hardened servers rename or disable CONFIG: carry on with INFO (which
                // has maxmemory, its policy and, from Redis 7, maxclients) and the plan's limits.
                _configUnavailable = true;
                Log.ConfigUnavailable(logger, ex.Message);
            }
        }

        var slowlog = slowlogTask is null ? null : await slowlogTask.ConfigureAwait(false);
        var cluster = info.GetValueOrDefault("cluster_enabled") == "1" && !_clusterInfoUnavailable ? await ClusterInfoAsync(server).ConfigureAwait(false) : null;
        return new RedisSample(info, config, at, time.GetElapsedTime(started), slowlog, cluster);
    }

    /// <summary>
    /// The settings of <see cref="ConfigKeys"/>: from Redis 7 in one <c>CONFIG GET</c> with every
    /// name (one command a sample in the node's statistics instead of eleven), before that one
    /// pipelined <c>CONFIG GET</c> each (older servers take one pattern).
    /// </summary>
    private static async Task<Dictionary<string, string>> ConfigAsync(IServer server)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (server.Version.Major >= 7)
        {
            var reply = await server.ExecuteAsync("CONFIG", ["GET", .. ConfigKeys]).ConfigureAwait(false);
            if (reply.Resp2Type == ResultType.Array && (RedisResult[]?)reply is { } items)
            {
                for (var i = 0; i + 1 < items.Length; i += 2)
                {
                    values[(string?)items[i] ?? ""] = (string?)items[i + 1] ?? "";
                }
            }

            return values;
        }

        var tasks = ConfigKeys.Select(key => server.ConfigGetAsync(key)).ToArray();
        // Every request awaited, so a refusal of one leaves no unobserved failure of the others.
        await Task.WhenAll(tasks).ConfigureAwait(false);
        foreach (var task in tasks)
        {
            foreach (var pair in task.Result)
            {
                values[pair.Key] = pair.Value;
            }
        }

        return values;
    }

    /// <summary>
    /// <c>SLOWLOG LEN</c> and the newest entry's id and duration, as redis_exporter reads them;
    /// null (and not asked again) when the server refuses SLOWLOG (renamed, or denied by its ACL).
    /// </summary>
    private async Task<SlowlogValues?> SlowlogAsync(IServer server)
    {
        var lengthTask = server.ExecuteAsync("SLOWLOG", "LEN");
        var lastTask = server.SlowlogGetAsync(1);
        try
        {
            // Both awaited together, so a refusal of one leaves no unobserved failure of the other.
            await Task.WhenAll(lengthTask, lastTask).ConfigureAwait(false);
            var length = (long)lengthTask.Result;
            var last = lastTask.Result;
            return last.Length == 0
                ? new SlowlogValues(length, 0, TimeSpan.Zero)
                : new SlowlogValues(length, last[0].UniqueId, last[0].Duration);
        }
        catch (RedisServerException ex)
        {
            _slowlogUnavailable = true;
            Log.SlowlogUnavailable(logger, ex.Message);
            return null;
        }
    }

    /// <summary>
    /// <c>CLUSTER INFO</c>'s fields on a node with <c>cluster_enabled:1</c>, for redis_cluster_*.
    /// Asked through a one-line script: the client library keeps CLUSTER for its own topology
    /// discovery, which the agent's connection turns off (it would send CLUSTER NODES to a
    /// standalone node at every connect, an error in its users' statistics, and connect to every
    /// peer of a cluster node). Null, and not asked again, when the node refuses the script
    /// (scripting renamed, or denied by the agent's ACL: asking every second would fill the node's
    /// error statistics); the rest of the sample stands.
    /// </summary>
    private async Task<IReadOnlyDictionary<string, string>?> ClusterInfoAsync(IServer server)
    {
        try
        {
            var text = (string?)await server.ExecuteAsync("EVAL", "return redis.call('CLUSTER','INFO')", "0").ConfigureAwait(false) ?? "";
            return text.Length > _options.MaxReplyBytes ? null : InfoParser.Parse(text);
        }
        catch (RedisServerException ex)
        {
            _clusterInfoUnavailable = true;
            Log.ClusterInfoUnavailable(logger, ex.Message);
            return null;
        }
    }

    private static long? Long(Dictionary<string, string> values, string key) =>
        values.TryGetValue(key, out var text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    private static partial class Log
    {
        [LoggerMessage(EventId = 1401, Level = LogLevel.Warning, Message = "CONFIG is unavailable on this server ({Reply}); carrying on with INFO only: persistence settings unknown, limits from INFO and the plan")]
        public static partial void ConfigUnavailable(ILogger logger, string reply);

        [LoggerMessage(EventId = 1402, Level = LogLevel.Warning, Message = "Sampling INFO failed; redis_up is 0 and the sampled series are left out until it works: {Message}")]
        public static partial void SamplingFailed(ILogger logger, string message);

        [LoggerMessage(EventId = 1405, Level = LogLevel.Warning, Message = "The INFO reply is {Length} bytes, over Sampling:MaxReplyBytes ({Limit}): not parsed, redis_up is 0; asking again in {Seconds} s")]
        public static partial void ReplyTooLarge(ILogger logger, int length, int limit, double seconds);

        [LoggerMessage(EventId = 1406, Level = LogLevel.Warning, Message = "SLOWLOG is unavailable on this server ({Reply}); the slow log's metrics are left out")]
        public static partial void SlowlogUnavailable(ILogger logger, string reply);

        [LoggerMessage(EventId = 1407, Level = LogLevel.Warning, Message = "CLUSTER INFO could not be read on this cluster-mode node ({Reply}); redis_cluster_* are left out")]
        public static partial void ClusterInfoUnavailable(ILogger logger, string reply);

        [LoggerMessage(EventId = 1403, Level = LogLevel.Information, Message = "Sampling INFO works again")]
        public static partial void SamplingResumed(ILogger logger);
    }
}
