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
    /// <summary>Keeps the host's stack-trace records out of the log; its ordinary lifetime lines stay.</summary>
    public static void QuietHostErrors(ILoggingBuilder logging) =>
        logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);

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
}
