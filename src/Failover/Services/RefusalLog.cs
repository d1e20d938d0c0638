using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace RedisFailover.Services;

/// <summary>
/// Logs refused calls without letting a flood of them flood the log: the first refusal of a caller
/// (its address) is logged at once, later ones are counted and said in one line per caller per
/// interval. A caller retrying a bad token a thousand times a second costs one line a minute.
/// </summary>
internal sealed partial class RefusalLog(TimeProvider time, ILogger<RefusalLog> logger)
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    /// <summary>Callers remembered at most; past it the table starts afresh (a spray of addresses must not grow it without bound).</summary>
    private const int MaxCallers = 10_000;

    private readonly ConcurrentDictionary<string, Entry> _callers = new(StringComparer.Ordinal);

    /// <summary>Refusals since the coordinator started.</summary>
    public long Total => Interlocked.Read(ref _total);

    private long _total;

    public void Refused(string caller, string reason)
    {
        Interlocked.Increment(ref _total);
        var now = time.GetUtcNow();
        if (_callers.Count >= MaxCallers)
        {
            _callers.Clear();
        }

        var entry = _callers.GetOrAdd(caller, _ => new Entry());
        long suppressed;
        lock (entry)
        {
            if (entry.LastLogged is { } last && now - last < Interval)
            {
                entry.Suppressed++;
                return;
            }

            suppressed = entry.Suppressed;
            entry.Suppressed = 0;
            entry.LastLogged = now;
        }

        Log.Refused(logger, caller, reason, suppressed);
    }

    private sealed class Entry
    {
        public DateTimeOffset? LastLogged { get; set; }

        public long Suppressed { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2006, Level = LogLevel.Warning, Message = "Refused a call from {Caller}: {Reason} ({Suppressed} more refusals from it in the last minute were not logged)")]
        public static partial void Refused(ILogger logger, string caller, string reason, long suppressed);
    }
}
