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
