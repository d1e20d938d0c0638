using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace RedisShared.Hosting;

/// <summary>
/// systemd's watchdog (<c>WatchdogSec=</c>): pings <c>WATCHDOG=1</c> every half period while the
/// program's main loop makes progress, and stops pinging when it does not, so that systemd kills
/// and restarts a daemon that hangs rather than one that merely runs. Compiled into redis-agent and
/// redis-failover (src/Shared); does nothing outside systemd or without a watchdog.
/// </summary>
/// <param name="stalled">Why the main loop is stuck, or null while it makes progress.</param>
internal sealed partial class SystemdWatchdog(ISystemdNotifier notifier, Func<string?> stalled, TimeProvider time, ILogger<SystemdWatchdog> logger) : BackgroundService
{
    private static readonly ServiceState Ping = new("WATCHDOG=1");

    /// <summary>The watchdog period systemd asks for, if it asks this process.</summary>
    public static TimeSpan? Period()
    {
        var usec = Environment.GetEnvironmentVariable("WATCHDOG_USEC");
        var pid = Environment.GetEnvironmentVariable("WATCHDOG_PID");
        if (!long.TryParse(usec, NumberStyles.None, CultureInfo.InvariantCulture, out var micro) || micro <= 0)
        {
            return null;
        }

        // Set for another process (a parent that exec'ed us without clearing it): not ours to ping.
        return pid is { Length: > 0 } && pid != Environment.ProcessId.ToString(CultureInfo.InvariantCulture) ? null : TimeSpan.FromTicks(micro * 10);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!notifier.IsEnabled || Period() is not { } period)
        {
            return;
        }

        Log.Enabled(logger, period.TotalSeconds);
        var silent = false;
        using var timer = new PeriodicTimer(period / 2, time);
        try
        {
            do
            {
                if (stalled() is { } why)
                {
                    if (!silent)
                    {
                        Log.Withheld(logger, why);
                    }

                    silent = true;
                    continue;
                }

                silent = false;
                notifier.Notify(Ping);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1901, Level = LogLevel.Information, Message = "systemd watchdog on: WATCHDOG=1 every {Seconds:0.#} s / 2 while the main loop makes progress")]
        public static partial void Enabled(ILogger logger, double seconds);

        [LoggerMessage(EventId = 1902, Level = LogLevel.Critical, Message = "Withholding the systemd watchdog ping: {Why}; systemd will restart this process")]
        public static partial void Withheld(ILogger logger, string why);
    }
}

/// <summary>How both programs join systemd.</summary>
internal static class SystemdIntegration
{
    /// <summary>
    /// <c>AddSystemd()</c>, which speaks the notify protocol only when systemd is the parent. The
    /// protocol's own contract is the <c>NOTIFY_SOCKET</c> variable (sd_notify(3) checks nothing
    /// else), so when it is set otherwise (a test, another supervisor) READY=1 and STOPPING=1 are
    /// sent all the same.
    /// </summary>
    public static void AddSystemdNotify(this IServiceCollection services)
    {
        services.AddSystemd();
        if (!SystemdHelpers.IsSystemdService() && Environment.GetEnvironmentVariable("NOTIFY_SOCKET") is { Length: > 0 })
        {
            services.AddSingleton<ISystemdNotifier, SystemdNotifier>();
            services.AddSingleton<IHostLifetime, SystemdLifetime>();
        }
    }
}
