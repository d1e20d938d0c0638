using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace RedisAgent.Testing;

/// <summary>One log entry as the agent wrote it.</summary>
public sealed record LogEntry(DateTimeOffset At, LogLevel Level, string Category, int EventId, string Message);

/// <summary>Everything an in-process agent logged, for assertions and failure messages.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public string Text => string.Join('\n', _entries.Select(e => $"{e.At:HH:mm:ss.fff} {e.Level,-11} {e.Category}[{e.EventId}] {e.Message}"));

    public bool Contains(int eventId) => _entries.Any(e => e.EventId == eventId);

    /// <summary>
    /// Events no test provokes on purpose, so a bug when they appear: a loop that failed and
    /// carried on (the agent's probe loop 1099, its supervisor loop 1199, a Redis line that broke
    /// the log pipeline 1211; the coordinator's tick 2033, a Sentinel-endpoint connection that
    /// failed unexpectedly 2084), and the host's own errors (a background service that died).
    /// </summary>
    public static readonly IReadOnlySet<int> NeverExpected = new HashSet<int> { 1099, 1199, 1211, 2033, 2084 };

    /// <summary>The entries that are bugs whatever the test does (see <see cref="NeverExpected"/>).</summary>
    public IReadOnlyList<LogEntry> Unexpected() =>
        [.. _entries.Where(e => NeverExpected.Contains(e.EventId)
            || (e.Level >= LogLevel.Error && e.Category.StartsWith("Microsoft.Extensions.Hosting", StringComparison.Ordinal)))];

    /// <summary>Fails the test (from a fixture's dispose) when something logged a bug: <see cref="Unexpected"/>.</summary>
    public void ThrowIfUnexpected(string who)
    {
        if (Unexpected() is { Count: > 0 } bugs)
        {
            throw new InvalidOperationException(
                $"{who} logged what no test expects (a bug):\n{string.Join('\n', bugs.Select(e => $"{e.At:HH:mm:ss.fff} {e.Level} {e.Category}[{e.EventId}] {e.Message}"))}");
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs sink, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var message = formatter(state, exception);
            if (exception is not null)
            {
                message += " | " + exception;
            }

            sink._entries.Enqueue(new LogEntry(DateTimeOffset.UtcNow, logLevel, category, eventId.Id, message));
        }
    }
}
