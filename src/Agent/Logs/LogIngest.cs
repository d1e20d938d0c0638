using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace RedisAgent.Logs;

/// <summary>Turns Redis's raw output lines into <see cref="LogLine"/>s on the bus.</summary>
internal sealed class RedisLogIngest(LogBus bus, IOptions<LogOptions> options, TimeProvider time, Connection.SecretRedactor redactor)
{
    private readonly RedisLogParser _parser = new(
        options.Value.RedisTimeZone is { Length: > 0 } zone ? TimeZoneInfo.FindSystemTimeZoneById(zone) : TimeZoneInfo.Local,
        options.Value.MaxLineLength);

    /// <summary>One raw line of Redis's, with every known secret masked (Redis quotes a bad masterauth in its own errors).</summary>
    /// <returns>The line as masked, for a caller that also logs it (so a line is masked once).</returns>
    public string Ingest(string raw, long droppedBytes = 0)
    {
        var line = redactor.Redact(raw);
        bus.Publish(_parser.Parse(line, time.GetUtcNow(), droppedBytes));
        return line;
    }
}

/// <summary>
/// Puts the agent's own events (restarts, verdicts, drain trouble) into the resource's stream as
/// <c>agent[resource]</c> lines, so a tail with <c>-s agent</c> shows what the agent did and why.
/// Only the agent's categories, at Information and above; Redis's own output is already there.
/// </summary>
internal sealed class LogBusLoggerProvider(LogBus bus, IOptions<LogOptions> options, TimeProvider time) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) =>
        categoryName.StartsWith("RedisAgent.", StringComparison.Ordinal) ? new Logger(this) : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public void Dispose()
    {
    }

    private sealed class Logger(LogBusLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var level = logLevel >= LogLevel.Warning ? '#' : '*';
            provider.Publish(new LogLine(provider.Now, LogSource.Agent, level, LineSanitizer.Clean(formatter(state, exception), provider.MaxLength))
            {
                Severity = logLevel switch
                {
                    LogLevel.Critical => 2,
                    LogLevel.Error => 3,
                    _ => null,
                },
            });
        }
    }

    private DateTimeOffset Now => time.GetUtcNow();

    private int MaxLength => options.Value.MaxLineLength;

    private void Publish(LogLine line) => bus.Publish(line);
}
