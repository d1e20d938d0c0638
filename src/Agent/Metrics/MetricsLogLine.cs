using System.Globalization;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RedisAgent.Logs;
using RedisAgent.Sampling;

namespace RedisAgent.Metrics;

/// <summary>
/// Every <see cref="MetricsOptions.LogInterval"/>, one line into the log stream in the form
/// Heroku's log router gives Redis's plan-limit metrics:
/// <c>source=REDIS addon=&lt;resource&gt; sample#active-connections=3 sample#max-connections=40 ...</c>.
/// Percentages are fractions of the plan's limits (as Heroku prints them), not of the host.
/// Nothing is written while there is no fresh sample: a dead node's last values are not news.
/// </summary>
internal sealed class MetricsLogLine(
    SampleBook samples,
    AgentMetrics metrics,
    LogBus bus,
    IOptions<MetricsOptions> options,
    TimeProvider time) : BackgroundService
{
    private RedisSample? _previous;
    private (DiskCounters Counters, long At)? _previousDisk;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.LogInterval;
        if (interval <= TimeSpan.Zero)
        {
            return;
        }

        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                var sample = samples.Last;
                if (sample is null || ReferenceEquals(sample, _previous))
                {
                    continue;
                }

                var text = Format(bus.Resource, metrics.Plan, sample, _previous, new HostReading(LoadAverage.Read(), HostStats.ReadMemory(), Iops(sample)));
                bus.Publish(new LogLine(time.GetUtcNow(), LogSource.Metrics, null, text));
                _previous = sample;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Reads and writes per second on the device under Redis's <c>dir</c> since the last line;
    /// null for the first line, and when the device or the directory is unknown.
    /// </summary>
    private (double Read, double Write)? Iops(RedisSample sample)
    {
        var now = time.GetTimestamp();
        var counters = sample.Config?.Dir is { } dir ? HostStats.ReadDisk(dir) : null;
        var previous = _previousDisk;
        _previousDisk = counters is { } c ? (c, now) : null;
        if (counters is not { } current || previous is not var (before, at))
        {
            return null;
        }

        var seconds = time.GetElapsedTime(at, now).TotalSeconds;
        return seconds <= 0 || current.Reads < before.Reads || current.Writes < before.Writes
            ? null
            : ((current.Reads - before.Reads) / seconds, (current.Writes - before.Writes) / seconds);
    }

    /// <summary>
    /// The line's text. <c>hit-rate</c> covers the lookups since <paramref name="previous"/> (since
    /// Redis started when there is none, or Redis restarted in between), and is left out when there
    /// were none; limits and percentages are left out when nothing limits the node.
    /// </summary>
    internal static string Format(string resource, Plan? plan, RedisSample sample, RedisSample? previous, HostReading host)
    {
        var usage = PlanUsage.Compute(plan, sample);
        var line = new StringBuilder(256);
        var c = CultureInfo.InvariantCulture;
        line.Append(c, $"source=REDIS addon={resource}");
        line.Append(c, $" sample#active-connections={usage.ActiveConnections}");
        if (usage.ConnectionLimit is { } maxConnections)
        {
            line.Append(c, $" sample#max-connections={maxConnections}");
            line.Append(c, $" sample#connection-percentage-used={usage.ConnectionRatio:0.#####}");
        }

        if (host.Load is var (one, five, fifteen))
        {
            line.Append(c, $" sample#load-avg-1m={one:0.###} sample#load-avg-5m={five:0.###} sample#load-avg-15m={fifteen:0.###}");
        }

        // Heroku's order: the disk's operations per second, then the host's memory in kB.
        if (host.Iops is var (read, write))
        {
            line.Append(c, $" sample#read-iops={read:0.######} sample#write-iops={write:0.######}");
        }

        if (host.Memory is { } memory)
        {
            line.Append(c, $" sample#memory-total={memory.TotalKb}kB sample#memory-free={memory.FreeKb}kB sample#memory-cached={memory.CachedKb}kB");
        }

        line.Append(c, $" sample#memory-redis={usage.UsedMemory}bytes");
        if (usage.MemoryLimit is { } maxMemory)
        {
            line.Append(c, $" sample#memory-max={maxMemory}bytes");
            line.Append(c, $" sample#memory-percentage-used={usage.MemoryRatio:0.#####}");
        }

        var hits = sample.Long("keyspace_hits") ?? 0;
        var misses = sample.Long("keyspace_misses") ?? 0;
        if (previous is not null && previous.Long("keyspace_hits") is { } hitsBefore && previous.Long("keyspace_misses") is { } missesBefore
            && hits >= hitsBefore && misses >= missesBefore)
        {
            (hits, misses) = (hits - hitsBefore, misses - missesBefore);
        }

        if (hits + misses > 0)
        {
            line.Append(c, $" sample#hit-rate={(double)hits / (hits + misses):0.#####}");
        }

        line.Append(c, $" sample#evicted-keys={sample.Long("evicted_keys") ?? 0}");
        return line.ToString();
    }
}

/// <summary>What the metrics line says of the host: its load, its memory, and its disk's operations per second (each null when unknown).</summary>
internal readonly record struct HostReading((double One, double Five, double Fifteen)? Load, HostMemory? Memory = null, (double Read, double Write)? Iops = null);

/// <summary>The host's load averages from <c>/proc/loadavg</c> (the agent runs beside its node).</summary>
internal static class LoadAverage
{
    public static (double One, double Five, double Fifteen)? Read(string path = "/proc/loadavg")
    {
        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    internal static (double One, double Five, double Fifteen)? Parse(string text)
    {
        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 3
            && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var one)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var five)
            && double.TryParse(parts[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var fifteen)
            ? (one, five, fifteen)
            : null;
    }
}
