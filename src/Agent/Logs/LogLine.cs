using System.Globalization;

namespace RedisAgent.Logs;

/// <summary>Where a line comes from: Redis itself, or the agent (restarts, verdicts), so tails can filter with <c>-s</c>.</summary>
internal enum LogSource
{
    Redis,
    Agent,
}

/// <summary>
/// One log line of a resource, already sanitized (one physical line, valid text, capped length).
/// <paramref name="Level"/> is Redis's level character (<c>. - * #</c>), or null when the line had none.
/// </summary>
internal sealed record LogLine(DateTimeOffset Timestamp, LogSource Source, char? Level, string Text)
{
    /// <summary>
    /// The line as Heroku's log router shows it:
    /// <c>2016-04-22T21:25:09Z redis[redis-clear-69157]: * The server is now ready ...</c>
    /// </summary>
    public string Format(string resource) =>
        string.Create(CultureInfo.InvariantCulture, $"{Timestamp.UtcDateTime:yyyy-MM-ddTHH:mm:ss}Z {SourceName}[{resource}]: {Message}");

    /// <summary>The part after the tag: the level character, when there is one, then the text.</summary>
    public string Message => Level is { } level ? $"{level} {Text}" : Text;

    public string SourceName => Source == LogSource.Redis ? "redis" : "agent";
}
