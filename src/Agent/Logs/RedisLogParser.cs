using System.Globalization;
using System.Text.RegularExpressions;

namespace RedisAgent.Logs;

/// <summary>
/// Parses Redis's own log format, <c>pid:role dd Mon yyyy HH:MM:SS.mmm level text</c> (role
/// X sentinel, C child, S replica, M primary; level <c>. - * #</c>). Redis writes its local
/// time, so the zone it ran in is needed to make the UTC timestamp. The <c>pid:role</c> prefix
/// is dropped. Lines that do not match (the start-up banner, a crash report) keep their text
/// and take the time they arrived.
/// </summary>
internal sealed partial class RedisLogParser(TimeZoneInfo redisTimeZone, int maxLength = LineSanitizer.DefaultMaxLength)
{
    public LogLine Parse(string raw, DateTimeOffset arrivedAt)
    {
        var match = Format().Match(raw);
        if (match.Success && DateTime.TryParseExact(
                match.Groups["time"].Value, "dd MMM yyyy HH:mm:ss.fff", CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
        {
            DateTime utc;
            try
            {
                utc = TimeZoneInfo.ConvertTimeToUtc(DateTime.SpecifyKind(local, DateTimeKind.Unspecified), redisTimeZone);
            }
            catch (ArgumentException)
            {
                // A local time that does not exist (the hour skipped at a DST change): the arrival time is the best we have.
                utc = arrivedAt.UtcDateTime;
            }

            return new LogLine(new DateTimeOffset(utc, TimeSpan.Zero), LogSource.Redis, match.Groups["level"].Value[0],
                LineSanitizer.Clean(match.Groups["text"].Value, maxLength));
        }

        return new LogLine(arrivedAt, LogSource.Redis, null, LineSanitizer.Clean(raw, maxLength));
    }

    [GeneratedRegex(@"^\d+:[XCSM] (?<time>\d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}\.\d{3}) (?<level>[.\-*#]) (?<text>.*)$", RegexOptions.Singleline)]
    private static partial Regex Format();
}
