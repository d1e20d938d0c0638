using System.Globalization;
using System.Net.Sockets;

namespace RedisAgent.Cli;

/// <summary>
/// <c>redis-agent logs [-t] [-n N] [-s redis|agent|heroku-redis] [--url URL]</c>: the resource's lines from a
/// running agent, in the manner of <c>heroku logs -s redis -t</c>. Prints exactly the lines the
/// agent serves, one per line.
/// </summary>
internal static class LogsCommand
{
    public const int UsageExitCode = RedisShared.Hosting.ExitCodes.Usage;
    public const int UnavailableExitCode = 69;

    /// <summary>A tail the agent ended, or lost mid-stream.</summary>
    public const int LostExitCode = 1;
    public const string UrlVariable = "REDIS_AGENT_URL";

    public const string Usage = """
        usage: redis-agent logs [-t|--tail] [-n|--num N] [-s|--source redis|agent|heroku-redis] [--url URL]
          -t, --tail     keep printing new lines as they come (Ctrl-C to stop; exit 1 if the agent goes away)
          -n, --num N    lines of history to print first (default 100)
          -s, --source   only Redis's own lines (redis), the agent's (agent) or its metrics line (heroku-redis)
                         (Heroku's spellings work too: --num=50, --source=redis, -tn 50)
          --url URL      the agent's HTTP address (default $REDIS_AGENT_URL, else http://127.0.0.1:9379)
          --token-file F the agent's Http:TokenFile token (default $REDIS_AGENT_TOKEN), when it asks for one
        """;

    public const string TokenVariable = "REDIS_AGENT_TOKEN";

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var token = Environment.GetEnvironmentVariable(TokenVariable);
        var at = Array.IndexOf(args, "--token-file");
        if (at >= 0)
        {
            try
            {
                token = at + 1 < args.Length ? (await File.ReadAllTextAsync(args[at + 1], cancellationToken).ConfigureAwait(false)).Trim() : throw new IOException("no file named");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                await error.WriteLineAsync($"redis-agent logs: --token-file cannot be read: {ex.Message}").ConfigureAwait(false);
                return UsageExitCode;
            }

            args = [.. args[..at], .. args[Math.Min(at + 2, args.Length)..]];
        }

        if (!TryParse(args, out var request, out var problem))
        {
            await error.WriteLineAsync($"redis-agent logs: {problem}\n{Usage}").ConfigureAwait(false);
            return UsageExitCode;
        }

        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        if (token is { Length: > 0 })
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        try
        {
            using var response = await http.GetAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                using var reader = new StreamReader(body);
                await error.WriteAsync($"redis-agent logs: the agent said {(int)response.StatusCode}: {await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false)}").ConfigureAwait(false);
                return UsageExitCode;
            }

            using var lines = new StreamReader(body);
            try
            {
                while (await lines.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
                {
                    await output.WriteLineAsync(line).ConfigureAwait(false);
                    await output.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is IOException or HttpRequestException)
            {
                // The agent went away mid-stream (stopped, killed, restarted): one line, not a stack trace.
                await error.WriteLineAsync($"redis-agent logs: the agent at {request.GetLeftPart(UriPartial.Authority)} went away ({ex.Message})").ConfigureAwait(false);
                return LostExitCode;
            }

            if (request.Query.Contains("tail=true", StringComparison.Ordinal) && !cancellationToken.IsCancellationRequested)
            {
                // A tail ends only when the agent ends it: it is stopping.
                await error.WriteLineAsync($"redis-agent logs: the agent at {request.GetLeftPart(UriPartial.Authority)} ended the tail (is it stopping?)").ConfigureAwait(false);
                return LostExitCode;
            }

            return 0;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 0;
        }
        catch (HttpRequestException ex) when (ex.InnerException is SocketException || ex.HttpRequestError == HttpRequestError.ConnectionError)
        {
            await error.WriteLineAsync($"redis-agent logs: cannot reach the agent at {request.GetLeftPart(UriPartial.Authority)} ({ex.Message}). Is redis-agent running? Set --url or {UrlVariable}.").ConfigureAwait(false);
            return UnavailableExitCode;
        }
    }

    /// <summary>
    /// Heroku's spellings as the short and long forms this parser reads: <c>--num=50</c> as
    /// <c>--num 50</c>, and joined short flags such as <c>-tn 50</c> as <c>-t -n 50</c>.
    /// </summary>
    internal static string[] Spelled(string[] args)
    {
        var spelled = new List<string>();
        foreach (var argument in args)
        {
            if (argument.StartsWith("--", StringComparison.Ordinal) && argument.IndexOf('=', StringComparison.Ordinal) is > 2 and var equals)
            {
                spelled.Add(argument[..equals]);
                spelled.Add(argument[(equals + 1)..]);
            }
            else if (argument.Length > 2 && argument[0] == '-' && argument[1] != '-' && argument[1..].All(c => c is 't' or 'n' or 's'))
            {
                spelled.AddRange(argument[1..].Select(c => "-" + c));
            }
            else
            {
                spelled.Add(argument);
            }
        }

        return [.. spelled];
    }

    internal static bool TryParse(string[] args, out Uri request, out string? problem)
    {
        request = null!;
        problem = null;
        args = Spelled(args);
        var tail = false;
        var num = 100;
        string? source = null;
        var url = Environment.GetEnvironmentVariable(UrlVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : Hosting.AgentHost.DefaultUrls;
        for (var i = 0; i < args.Length; i++)
        {
            string? Value() => i + 1 < args.Length ? args[++i] : null;
            switch (args[i])
            {
                case "-t" or "--tail":
                    tail = true;
                    break;
                case "-n" or "--num":
                    var text = Value();
                    if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out num))
                    {
                        problem = $"{args[i - 1]} needs a whole number, not '{text}'";
                        return false;
                    }

                    break;
                case "-s" or "--source":
                    source = Value();
                    if (source is null || Logs.LogLine.Named(source) is null)
                    {
                        problem = $"--source must be redis, agent or heroku-redis, not '{source}'";
                        return false;
                    }

                    break;
                case "--url":
                    url = Value() ?? "";
                    break;
                default:
                    problem = $"unknown argument '{args[i]}'";
                    return false;
            }
        }

        if (UrlProblem(url, out var baseUri) is { } urlProblem)
        {
            problem = urlProblem;
            return false;
        }

        var query = $"/logs?num={num.ToString(CultureInfo.InvariantCulture)}" + (tail ? "&tail=true" : "") + (source is null ? "" : $"&source={source}");
        request = new Uri(baseUri, query);
        return true;
    }

    /// <summary>Why <paramref name="url"/> cannot name an agent (an http:// or https:// address, with no user or password in it, which an error line would then show); null when it can.</summary>
    internal static string? UrlProblem(string? url, out Uri baseUri)
    {
        baseUri = null!;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https"))
        {
            return $"--url must be an http:// address, not '{RedisShared.Hosting.Quoted.Printable(url ?? "")}'";
        }

        if (parsed.UserInfo.Length > 0)
        {
            return "--url must not hold a user or password";
        }

        baseUri = parsed;
        return null;
    }
}
