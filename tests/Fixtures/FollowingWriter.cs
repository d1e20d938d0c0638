using System.Globalization;

namespace RedisAgent.Testing;

/// <summary>
/// Writes <c>w:N</c> keys to wherever the primary is said to be (<paramref name="locate"/>, asked
/// again after every failure), remembering each acknowledged write and when; what a failover
/// test and the Sentinel comparison count lost writes and downtime with.
/// </summary>
/// <param name="timeout">How long one write (or connect) may take before it counts as unacknowledged.</param>
/// <param name="pace">A pause after each acknowledged write (zero: as fast as the primary answers).</param>
/// <param name="prefix">The keys' prefix, so that several writers can share a primary.</param>
public sealed class FollowingWriter(Func<Task<(string Host, int Port)?>> locate, TimeSpan timeout, TimeSpan pace, string prefix = "w")
{
    private readonly List<(string Key, DateTimeOffset At)> _acknowledged = [];

    // Set by Through: the application's own client writes, rather than a connection to what locate says.
    private Func<string, Task<bool>>? _set;

    /// <summary>
    /// A writer that writes through <paramref name="set"/> (a client library that finds the primary
    /// itself, such as StackExchange.Redis with serviceName=): true when the write was acknowledged;
    /// an exception or false counts as not acknowledged, and the next key is tried after the pace.
    /// </summary>
    public static FollowingWriter Through(Func<string, Task<bool>> set, TimeSpan timeout, TimeSpan pace, string prefix) =>
        new(() => Task.FromResult<(string, int)?>(null), timeout, pace, prefix) { _set = set };

    public Task Task { get; private set; } = Task.CompletedTask;

    /// <summary>The last failure that sent the writer looking for the primary again.</summary>
    public string? LastError { get; private set; }

    public int Count
    {
        get
        {
            lock (_acknowledged)
            {
                return _acknowledged.Count;
            }
        }
    }

    public IReadOnlyList<string> Acknowledged
    {
        get
        {
            lock (_acknowledged)
            {
                return [.. _acknowledged.Select(a => a.Key)];
            }
        }
    }

    public DateTimeOffset? LastAck
    {
        get
        {
            lock (_acknowledged)
            {
                return _acknowledged.Count == 0 ? null : _acknowledged[^1].At;
            }
        }
    }

    /// <summary>Starts writing until <paramref name="stop"/>; bounded to a million writes.</summary>
    public FollowingWriter Start(CancellationToken stop)
    {
        Task = Task.Run(() => RunAsync(stop), CancellationToken.None);
        return this;
    }

    public int AcknowledgedBetween(DateTimeOffset from, DateTimeOffset to)
    {
        lock (_acknowledged)
        {
            return _acknowledged.Count(a => a.At >= from && a.At <= to);
        }
    }

    public int AcknowledgedBefore(DateTimeOffset at)
    {
        lock (_acknowledged)
        {
            return _acknowledged.Count(a => a.At <= at);
        }
    }

    /// <summary>From the fault to the end of the last gap (over 500 ms without an acknowledged write) since it; zero when writes never stopped.</summary>
    public TimeSpan BackAfter(DateTimeOffset fault)
    {
        lock (_acknowledged)
        {
            var times = _acknowledged.Select(a => a.At).Where(at => at >= fault - TimeSpan.FromMilliseconds(500)).ToList();
            var back = TimeSpan.Zero;
            for (var i = 1; i < times.Count; i++)
            {
                if (times[i] - times[i - 1] > TimeSpan.FromMilliseconds(500))
                {
                    back = times[i] - fault;
                }
            }

            return back;
        }
    }

    /// <summary>The longest time between two acknowledged writes from <paramref name="from"/> to <paramref name="to"/> (the pause a client saw); zero with fewer than two.</summary>
    public TimeSpan LongestGap(DateTimeOffset from, DateTimeOffset to)
    {
        lock (_acknowledged)
        {
            var times = _acknowledged.Select(a => a.At).Where(at => at >= from && at <= to).ToList();
            return times.Count < 2 ? TimeSpan.Zero : times.Zip(times.Skip(1), (a, b) => b - a).Max();
        }
    }

    /// <summary>From the fault to the first write acknowledged after it; null when none was.</summary>
    public TimeSpan? FirstAfter(DateTimeOffset fault)
    {
        lock (_acknowledged)
        {
            return _acknowledged.FirstOrDefault(a => a.At > fault) is { Key: not null } first ? first.At - fault : null;
        }
    }

    /// <summary>Acknowledged keys that <paramref name="host"/>:<paramref name="port"/> does not have.</summary>
    public async Task<int> MissingOnAsync(string host, int port)
    {
        await using var client = await RespClient.ConnectAsync(host, port).ConfigureAwait(false);
        var missing = 0;
        foreach (var key in Acknowledged)
        {
            if ((await client.CommandAsync("EXISTS", key).ConfigureAwait(false)).Trim() != "1")
            {
                missing++;
            }
        }

        return missing;
    }

    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private long _paced;

    /// <summary>
    /// Holds the writer to one write per <c>pace</c> on average: it waits only while ahead of that
    /// schedule (a Task.Delay per write would add a timer's granularity to every one: about 270 writes
    /// a second at a 1 ms pace, not 1,000). Never more than 100 ms behind: after a stall (a failover)
    /// it resumes at the pace, not in a burst.
    /// </summary>
    private async Task PaceAsync(CancellationToken stop)
    {
        if (pace <= TimeSpan.Zero)
        {
            return;
        }

        var ahead = (pace * ++_paced) - _clock.Elapsed;
        if (ahead > TimeSpan.Zero)
        {
            await Task.Delay(ahead, stop).ConfigureAwait(false);
        }
        else if (ahead < -TimeSpan.FromMilliseconds(100))
        {
            _paced = (long)((_clock.Elapsed - TimeSpan.FromMilliseconds(100)) / pace);
        }
    }

    private async Task RunAsync(CancellationToken stop)
    {
        if (_set is { } set)
        {
            await RunThroughAsync(set, stop).ConfigureAwait(false);
            return;
        }

        for (var i = 0; i < 1_000_000 && !stop.IsCancellationRequested; i++)
        {
            try
            {
                if (await locate().ConfigureAwait(false) is not { } primary)
                {
                    await Task.Delay(50, stop).ConfigureAwait(false);
                    continue;
                }

                await using var client = await RespClient.ConnectAsync(primary.Host, primary.Port).WaitAsync(timeout, stop).ConfigureAwait(false);
                for (; i < 1_000_000 && !stop.IsCancellationRequested; i++)
                {
                    var key = prefix + ":" + i.ToString(CultureInfo.InvariantCulture);
                    if (await client.CommandAsync("SET", key, "1").WaitAsync(timeout, stop).ConfigureAwait(false) != "OK")
                    {
                        break;
                    }

                    lock (_acknowledged)
                    {
                        _acknowledged.Add((key, DateTimeOffset.UtcNow));
                    }

                    await PaceAsync(stop).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // The primary went away mid-write: that write was not acknowledged. Find it again.
                LastError = ex.GetType().Name + ": " + ex.Message;
            }
        }
    }

    private async Task RunThroughAsync(Func<string, Task<bool>> set, CancellationToken stop)
    {
        for (var i = 0; i < 1_000_000 && !stop.IsCancellationRequested;)
        {
            var key = prefix + ":" + i.ToString(CultureInfo.InvariantCulture);
            try
            {
                if (await set(key).WaitAsync(timeout, stop).ConfigureAwait(false))
                {
                    lock (_acknowledged)
                    {
                        _acknowledged.Add((key, DateTimeOffset.UtcNow));
                    }

                    i++;
                }

                await PaceAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                LastError = ex.GetType().Name + ": " + ex.Message;
                await Task.Delay(pace, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }
}
