using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace RedisShared.Hosting;

/// <summary>
/// SIGHUP's default action ends a process at once, without the stop that lets Redis save. A daemon
/// gets SIGHUP from a closed terminal, a careless <c>kill -HUP</c> or a log rotation script: none of
/// them means "stop". Both programs read their configuration once at start, so there is nothing to
/// reload: the signal is ignored, and said so.
/// </summary>
internal static partial class HangupSignal
{
    /// <summary>Ignores SIGHUP until disposed; <paramref name="logger"/> gives the program's logger once there is one.</summary>
    public static IDisposable Ignore(string program, Func<ILogger?> logger) =>
        PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            if (logger() is { } log)
            {
                Log.Ignored(log, program);
            }
            else
            {
                Console.Error.WriteLine($"{program}: SIGHUP ignored (the configuration is read only at start; restart {program} to apply a change)");
            }
        });

    private static partial class Log
    {
        [LoggerMessage(EventId = 1903, Level = LogLevel.Warning, Message = "SIGHUP ignored: {Program} reads its configuration only at start; restart it to apply a change (a stop lets Redis save first)")]
        public static partial void Ignored(ILogger logger, string program);
    }
}
