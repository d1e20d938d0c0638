
namespace RedisAgent.Logs;

/// <summary>
/// Parses Redis's own log format, <c>pid:role dd Mon yyyy HH:MM:SS.mmm level text</c> (role
/// X sentinel, C child, S replica, M primary; level <c>. - * #</c>). Redis writes its local
/// time, so the zone it ran in is needed to make the UTC timestamp. The <c>pid:role</c> prefix
/// is dropped.
/// <para>
/// A line that does not start a Redis record (the rest of a message with newlines in it: the
/// start-up logo, a crash report, or a script's <c>redis.log()</c> text) is a continuation of the
/// record before it: it takes that record's time and is marked with <see cref="ContinuationMark"/>,
/// so no parser can take it for a record, or for the agent's metrics line, of its own. So is a
/// line made to look like a record more than <see cref="BackdatingTolerance"/> older than the
/// record before it (a warning back-dated to 2020 by a script), or that much later than it
/// arrived (one dated 2030 would make every true record after it look back-dated): Redis's own
/// records only go forward, a daylight-saving change back included, and are written as they happen.
/// </para>
/// </summary>
internal sealed class RedisLogParser(TimeZoneInfo redisTimeZone, int maxLength = LineSanitizer.DefaultMaxLength)
{
    // "dd Mon yyyy HH:MM:SS.mmm": fixed width, as Redis's strftime("%d %b %Y %H:%M:%S.") + "%03d" writes it.
    private const int TimeLength = 24;
    private static readonly string[] Months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

    /// <summary>What a continuation line starts with: no Redis record starts so (its level comes first: <c>. - * #</c>).</summary>
    public const string ContinuationMark = "| ";

    /// <summary>How far a record may go back from the one before it and still be one (a clock set back, a daylight-saving change).</summary>
    public static readonly TimeSpan BackdatingTolerance = TimeSpan.FromHours(2);

    private DateTimeOffset? _lastRecord;

    // The zone's offset for the last local minute seen: log lines come in bursts within a minute,
    // and offsets only change on minute boundaries.
    private long _cachedMinute = long.MinValue;
    private TimeSpan _cachedOffset;
    private bool _cachedValid;

    public LogLine Parse(string raw, DateTimeOffset arrivedAt, long droppedBytes = 0)
    {
        if (TryParse(raw, out var local, out var level, out var textStart) && ToUtc(local) is { } utc
            && (_lastRecord is not { } last || utc >= last - BackdatingTolerance) && utc <= arrivedAt + BackdatingTolerance)
        {
            _lastRecord = utc;
            return new LogLine(utc, LogSource.Redis, level, LineSanitizer.Clean(raw[textStart..], maxLength, droppedBytes));
        }

        return new LogLine(_lastRecord ?? arrivedAt, LogSource.Redis, null, LineSanitizer.Clean(ContinuationMark + raw, maxLength, droppedBytes));
    }

    /// <summary>Matches <c>^\d+:[XCSM] dd Mon yyyy HH:MM:SS.mmm [.-*#] </c>, by hand: it runs for every line.</summary>
    internal static bool TryParse(string raw, out DateTime local, out char level, out int textStart)
    {
        local = default;
        level = default;
        textStart = 0;
        var line = raw.AsSpan();
        var i = 0;
        while (i < line.Length && char.IsAsciiDigit(line[i]))
        {
            i++;
        }

        // pid ':' role ' ' time ' ' level ' '
        if (i == 0 || line.Length < i + 3 + TimeLength + 3 || line[i] != ':' || line[i + 1] is not ('X' or 'C' or 'S' or 'M') || line[i + 2] != ' ')
        {
            return false;
        }

        var time = line.Slice(i + 3, TimeLength);
        var after = i + 3 + TimeLength;
        if (line[after] != ' ' || line[after + 1] is not ('.' or '-' or '*' or '#') || line[after + 2] != ' ')
        {
            return false;
        }

        if (time[2] != ' ' || time[6] != ' ' || time[11] != ' ' || time[14] != ':' || time[17] != ':' || time[20] != '.'
            || !Digits(time[..2], out var day) || !Digits(time.Slice(7, 4), out var year) || !Digits(time.Slice(12, 2), out var hour)
            || !Digits(time.Slice(15, 2), out var minute) || !Digits(time.Slice(18, 2), out var second) || !Digits(time.Slice(21, 3), out var millisecond))
        {
            return false;
        }

        var month = Array.IndexOf(Months, time.Slice(3, 3).ToString()) + 1;
        if (month == 0 || year < 1 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        local = new DateTime(year, month, day, hour, minute, second, millisecond, DateTimeKind.Unspecified);
        level = line[after + 1];
        textStart = after + 3;
        return true;
    }

    private DateTimeOffset? ToUtc(DateTime local)
    {
        var minute = local.Ticks / TimeSpan.TicksPerMinute;
        if (minute != _cachedMinute)
        {
            _cachedMinute = minute;
            try
            {
                var utc = TimeZoneInfo.ConvertTimeToUtc(local, redisTimeZone);
                _cachedOffset = local - utc;
                _cachedValid = true;
            }
            catch (ArgumentException)
            {
                // A local time that does not exist (the hour skipped at a DST change): the arrival time is the best we have.
                _cachedValid = false;
            }
        }

        return _cachedValid ? new DateTimeOffset(DateTime.SpecifyKind(local - _cachedOffset, DateTimeKind.Utc)) : null;
    }

    private static bool Digits(ReadOnlySpan<char> text, out int value)
    {
        value = 0;
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        return true;
    }
}
