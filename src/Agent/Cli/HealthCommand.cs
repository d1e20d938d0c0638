using System.Net.Sockets;

namespace RedisAgent.Cli;

/// <summary>
/// <c>redis-agent health [--ready] [--url URL]</c>: asks a running agent for <c>/healthz</c> (or
/// <c>/readyz</c>) and exits 0 when it answers 200, 1 when it answers otherwise, 69 when nothing
/// answers. For container health checks, where no curl is at hand.
/// </summary>
internal static class HealthCommand
{
    public const string Usage = "usage: redis-agent health [--ready] [--url URL]   (default $REDIS_AGENT_URL, else http://127.0.0.1:9379)";

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var path = "/healthz";
        var url = Environment.GetEnvironmentVariable(LogsCommand.UrlVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : Hosting.AgentHost.DefaultUrls;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--ready":
                    path = "/readyz";
                    break;
                case "--url" when i + 1 < args.Length:
                    url = args[++i];
                    break;
                default:
                    await error.WriteLineAsync($"redis-agent health: unknown argument '{args[i]}'\n{Usage}").ConfigureAwait(false);
                    return LogsCommand.UsageExitCode;
            }
        }

        if (LogsCommand.UrlProblem(url, out var baseUri) is { } problem)
        {
            await error.WriteLineAsync($"redis-agent health: {problem}").ConfigureAwait(false);
            return LogsCommand.UsageExitCode;
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await http.GetAsync(new Uri(baseUri, path), cancellationToken).ConfigureAwait(false);
            await output.WriteAsync(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or SocketException)
        {
            await error.WriteLineAsync($"redis-agent health: cannot reach the agent at {baseUri.GetLeftPart(UriPartial.Authority)} ({ex.Message})").ConfigureAwait(false);
            return LogsCommand.UnavailableExitCode;
        }
    }
}
