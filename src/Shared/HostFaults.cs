using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace RedisShared.Hosting;

/// <summary>
/// What both daemons do around the host so that a failure is never silent: a loop that faulted
/// (the host then stops, and returns as if all were well) is found and makes the exit non-zero;
/// the host's own "failed to start" record, a stack trace that may quote a value, is left out of
/// the log (the program prints one line naming the problem instead).
/// </summary>
internal static class HostFaults
{
    /// <summary>
    /// The host's own argument that stops it watching its JSON files for changes: both programs read
    /// their configuration only at start (a restart applies a change; SIGHUP says so), and each watch
    /// is an inotify instance, of which a user has 128 on a default Linux (the test suites ran out).
    /// </summary>
    public const string NoReload = "--hostBuilder:reloadConfigOnChange=false";

    /// <summary>
    /// Keeps the host's stack-trace records out of the log; its ordinary lifetime lines (another
    /// category) stay. All of them: a start that fails after a loop was started cancels that loop, and
    /// when the loop's task had not begun yet (a loaded machine) the host logs it, at Critical, as a loop
    /// that threw and stopped the host, with a stack trace. A loop that really fails is said by
    /// <see cref="RunAsync"/>, in one line, with a non-zero exit.
    /// </summary>
    public static void QuietHostErrors(ILoggingBuilder logging) =>
        logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);

    /// <summary>The host's loops, taken before it runs (running it disposes its services).</summary>
    public static IReadOnlyList<BackgroundService> Loops(IServiceProvider services) =>
        [.. services.GetServices<IHostedService>().OfType<BackgroundService>()];

    /// <summary>Each background loop that ended with an exception, as "Type: message" (empty when none did).</summary>
    public static IReadOnlyList<string> Faulted(IReadOnlyList<BackgroundService> loops) =>
        [.. loops
            .Where(s => s.ExecuteTask is { IsFaulted: true })
            .Select(s => $"{s.GetType().Name} failed: {s.ExecuteTask!.Exception!.GetBaseException().GetType().Name}: {s.ExecuteTask.Exception.GetBaseException().Message}")];

    /// <summary>Why <c>Urls</c> cannot be listened on, or null: each of its ';'-separated entries must be http(s)://host:port.</summary>
    public static string? UrlsProblem(string? urls, string example)
    {
        foreach (var url in (urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var candidate = url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal);
            if (!Uri.TryCreate(candidate, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0 || uri.AbsolutePath != "/")
            {
                return $"Urls: '{Quoted.Printable(url)}' is not an address to listen on (http://host:port, e.g. {example}).";
            }
        }

        return null;
    }

    /// <summary>
    /// Runs a daemon's host as both programs do: SIGHUP ignored (and logged), the host's checks
    /// before it starts, and exactly one line and a non-zero exit for whatever ends it badly:
    /// <see cref="ExitCodes.Config"/> for a configuration fault (<paramref name="describeConfigurationError"/>
    /// names the key), <see cref="ExitCodes.Software"/> for anything else, a loop that faulted
    /// included. Never a stack trace, never a secret (<paramref name="redact"/>).
    /// </summary>
    /// <param name="sections">The program's configuration sections (as <see cref="CommandLine.Preflight"/> takes them): a key in one of them that names no setting is a configuration error.</param>
    public static async Task<int> RunAsync(
        string program,
        string loggerCategory,
        Func<WebApplication> build,
        IReadOnlyDictionary<string, Type?> sections,
        Action<WebApplication> checkBeforeStart,
        Func<Exception, string?> describeConfigurationError,
        Func<string, string> redact,
        TextWriter error)
    {
        // Before anything opens a descriptor: a NativeAOT binary starts at the soft limit (1024 under systemd).
        DescriptorLimit.Raise();
        ILogger? logger = null;
        using var hangup = HangupSignal.Ignore(program, () => logger);
        try
        {
            // Before the host reads them: which of two such variables it took would vary.
            if (CommandLine.AmbiguousVariables(Environment.GetEnvironmentVariables(), sections) is { } ambiguous)
            {
                await error.WriteLineAsync($"{program}: configuration error: {ambiguous}").ConfigureAwait(false);
                return ExitCodes.Config;
            }

            await using var host = build();
            logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger(loggerCategory);
            // Validated before starting, so a bad key costs one clear line rather than the host's
            // "failed to start" stack trace.
            if (CommandLine.UnknownKeys(host.Configuration, sections) is { } unknown)
            {
                await error.WriteLineAsync($"{program}: configuration error: {unknown}").ConfigureAwait(false);
                return ExitCodes.Config;
            }

            checkBeforeStart(host);
            var loops = Loops(host.Services);
            await host.RunAsync().ConfigureAwait(false);
            if (Faulted(loops) is { Count: > 0 } faults)
            {
                await error.WriteLineAsync($"{program}: fatal: {redact(string.Join("; ", faults))}").ConfigureAwait(false);
                return ExitCodes.Software;
            }

            return ExitCodes.Ok;
        }
        catch (Exception ex) when (describeConfigurationError(ex) is { } message)
        {
            await error.WriteLineAsync($"{program}: configuration error: {message}").ConfigureAwait(false);
            return ExitCodes.Config;
        }
        catch (Exception ex)
        {
            // Never exit 0 on a failure (Restart=on-failure must see it), never a stack trace (it may quote a value).
            await error.WriteLineAsync($"{program}: fatal: {redact(ex.GetType().Name + ": " + ex.Message)}").ConfigureAwait(false);
            return ExitCodes.Software;
        }
    }
}
