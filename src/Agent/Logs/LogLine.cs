using System.Globalization;
using System.Text;

namespace RedisAgent.Logs;

/// <summary>
/// Where a line comes from: Redis itself, the agent (restarts, verdicts), or the agent's plan-limit
/// metrics line, so tails can filter with <c>-s</c>. Each has its own tag, and only Redis's output
/// is tagged <c>redis</c>: nothing Redis writes can pass for the agent's lines or its metrics.
/// </summary>
internal enum LogSource
{
    Redis,
    Agent,
    Metrics,
}

/// <summary>
/// One log line of a resource, already sanitized (one physical line, valid text, capped length).
/// <paramref name="Level"/> is Redis's level character (<c>. - * #</c>), or null when the line had none.
/// </summary>
internal sealed record LogLine(DateTimeOffset Timestamp, LogSource Source, char? Level, string Text)
{
    /// <summary>
    /// The syslog severity when Redis's level alphabet cannot say it: the agent's own errors (3) and
    /// critical events (2), which would otherwise arrive at a drain as warnings (Redis's <c>#</c>).
    /// </summary>
    public int? Severity { get; init; }

    /// <summary>
    /// The line as Heroku's log router shows it:
    /// <c>2016-04-22T21:25:09Z redis[redis-clear-69157]: * The server is now ready ...</c>
    /// </summary>
    public string Format(string resource) =>
        string.Create(CultureInfo.InvariantCulture, $"{Timestamp.UtcDateTime:yyyy-MM-ddTHH:mm:ss}Z {SourceName}[{resource}]: {Message}");

    /// <summary>
    /// <see cref="Format"/> and a newline, as UTF-8: what a live tail sends. Made once, by the first tail
    /// to send the line, and shared by every other (256 tails formatting each line for themselves spent
    /// a core and most of it in the collector, and delayed the agent's own probes).
    /// </summary>
    public ReadOnlyMemory<byte> TailBytes(string resource)
    {
        if (Volatile.Read(ref _tail) is { } made && string.Equals(made.Resource, resource, StringComparison.Ordinal))
        {
            return made.Bytes;
        }

        var bytes = Encoding.UTF8.GetBytes(Format(resource) + "\n");
        Volatile.Write(ref _tail, new TailText(resource, bytes));
        return bytes;
    }

    /// <summary>Equal when every part of the line is: the tail's formatted copy is not a part.</summary>
    public bool Equals(LogLine? other) =>
        other is not null
        && Timestamp == other.Timestamp
        && Source == other.Source
        && Level == other.Level
        && string.Equals(Text, other.Text, StringComparison.Ordinal)
        && Severity == other.Severity;

    public override int GetHashCode() => HashCode.Combine(Timestamp, Source, Level, Text, Severity);

    private TailText? _tail;

    private sealed record TailText(string Resource, byte[] Bytes);

    /// <summary>The part after the tag: the level character, when there is one, then the text.</summary>
    public string Message => Level is { } level ? $"{level} {Text}" : Text;

    public string SourceName => NameOf(Source);

    /// <summary>
    /// The tag of each source: <c>redis</c>, <c>agent</c>, and <c>heroku-redis</c> for the metrics
    /// line (the process name Heroku's router gives it).
    /// </summary>
    public static string NameOf(LogSource source) => source switch
    {
        LogSource.Redis => "redis",
        LogSource.Agent => "agent",
        LogSource.Metrics => "heroku-redis",
        _ => throw new ArgumentOutOfRangeException(nameof(source)),
    };

    /// <summary>The source a tag names (as <c>-s</c> takes it); null when none does.</summary>
    public static LogSource? Named(string name) => Enum.GetValues<LogSource>().Cast<LogSource?>().FirstOrDefault(s => NameOf(s!.Value) == name);
}
