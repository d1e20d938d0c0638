using System.Net;
using RedisAgent.Logs;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Logs;

/// <summary>Live tails over HTTP and through the CLI, in the manner of <c>heroku logs -s redis -t</c>.</summary>
public sealed class LiveTailTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };
    private AgentUnderTest _agent = null!;

    public async Task InitializeAsync()
    {
        _agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?> { ["Logs:Resource"] = "tail-test" });
        await Poll.UntilAsync(() => _agent.LogBus.History().Any(l => l.Text.Contains("Ready to accept connections", StringComparison.Ordinal)),
            Deadline, () => "no ready line");
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _agent.DisposeAsync();
    }

    [Fact]
    public async Task History_with_num_and_source_is_the_last_lines_in_the_routers_format()
    {
        var expected = _agent.LogBus.History().Where(l => l.Source == LogSource.Redis).TakeLast(3).Select(l => l.Format("tail-test")).ToList();

        var body = await _http.GetStringAsync(new Uri(_agent.HttpAddress, "/logs?num=3&source=redis"));

        Assert.Equal(expected, body.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Tail_streams_new_lines_as_they_come()
    {
        using var response = await _http.GetAsync(new Uri(_agent.HttpAddress, "/logs?num=0&tail=true&source=agent"), HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

        Signals.Send(_agent.ExecProcessId!.Value, Signals.SigKill);

        string? line;
        do
        {
            line = await reader.ReadLineAsync().WaitAsync(Deadline);
            Assert.NotNull(line);
            Assert.Contains(" agent[tail-test]: ", line, StringComparison.Ordinal);
        }
        while (!line.Contains("Restarted redis with the exec driver", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("num=-1", "num must be a whole number")]
    [InlineData("num=999999", "num must be a whole number from 0 to 1500")]
    [InlineData("source=kernel", "source must be redis, agent or heroku-redis")]
    [InlineData("tail=maybe", "tail must be true or false")]
    public async Task BadQuery_IsA400SayingWhatIsWrong(string query, string expected)
    {
        using var response = await _http.GetAsync(new Uri(_agent.HttpAddress, "/logs?" + query));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>
    /// Issue 18's forgery, against a real Redis: any client allowed EVAL writes text with newlines
    /// into Redis's log. Each extra physical line is marked as the continuation of the script's
    /// record: none passes for the agent's metrics line (which has its own tag) nor for a record
    /// back-dated to 2020.
    /// </summary>
    [Fact]
    public async Task A_scripts_log_text_with_newlines_passes_neither_for_a_record_nor_for_the_metrics_line()
    {
        await Resp.CommandAsync("127.0.0.1", _agent.Port, "EVAL",
            "redis.log(redis.LOG_WARNING, 'x\\nsource=REDIS addon=tail-test sample#active-connections=9999\\n1:M 01 Jan 2020 00:00:00.000 # back-dated')", "0");
        await Poll.UntilAsync(() => _agent.LogBus.History().Any(l => l.Text.Contains("back-dated", StringComparison.Ordinal)), Deadline, () => "the script's lines");

        var lines = (await _http.GetStringAsync(new Uri(_agent.HttpAddress, "/logs?num=50"))).Split('\n');

        Assert.Contains(lines, l => l.EndsWith(" redis[tail-test]: # x", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.EndsWith(" redis[tail-test]: | source=REDIS addon=tail-test sample#active-connections=9999", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.EndsWith(" redis[tail-test]: | 1:M 01 Jan 2020 00:00:00.000 # back-dated", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("]: source=REDIS", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.StartsWith("2020-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CLI_prints_exactly_the_lines()
    {
        var expected = _agent.LogBus.History().Where(l => l.Source == LogSource.Redis).TakeLast(5).Select(l => l.Format("tail-test")).ToList();

        await using var cli = AgentProcess.Start(new Dictionary<string, string>(), "logs", "-n", "5", "-s", "redis", "--url", _agent.HttpAddress.ToString());

        Assert.Equal(0, await cli.WaitForExitAsync(Deadline));
        Assert.Equal(expected, cli.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task CLI_tail_keeps_printing()
    {
        await using var cli = AgentProcess.Start(new Dictionary<string, string>(), "logs", "-t", "-n", "0", "--url", _agent.HttpAddress.ToString());
        await Poll.UntilAsync(() => _agent.LogBus.Sinks.Count >= 1, Deadline, () => "the CLI never subscribed: " + cli.Output);

        Signals.Send(_agent.ExecProcessId!.Value, Signals.SigKill);

        await cli.WaitForOutputAsync("agent[tail-test]: # Restarted redis with the exec driver", Deadline);
        await cli.WaitForOutputAsync("redis[tail-test]: * Ready to accept connections", Deadline);
    }

    [Theory]
    [InlineData("--num", "lots", "--num needs a whole number, not 'lots'")]
    [InlineData("-s", "kernel", "--source must be redis, agent or heroku-redis, not 'kernel'")]
    [InlineData("--frobnicate", "", "unknown argument '--frobnicate'")]
    public async Task CLI_bad_arguments_say_what_is_wrong_and_exit_64(string flag, string value, string expected)
    {
        string[] arguments = value.Length == 0 ? ["logs", flag] : ["logs", flag, value];
        await using var cli = AgentProcess.Start(new Dictionary<string, string>(), arguments);

        Assert.Equal(RedisAgent.Cli.LogsCommand.UsageExitCode, await cli.WaitForExitAsync(Deadline));
        Assert.Contains(expected, cli.Output, StringComparison.Ordinal);
        Assert.Contains("usage: redis-agent logs", cli.Output, StringComparison.Ordinal);
    }

    /// <summary>Commands copied from Heroku's documentation work as written (issue 18).</summary>
    [Theory]
    [InlineData(new[] { "--num=50", "--source=redis", "--tail" }, "/logs?num=50&tail=true&source=redis")]
    [InlineData(new[] { "-tn", "50" }, "/logs?num=50&tail=true")]
    [InlineData(new[] { "-t", "-s", "agent" }, "/logs?num=100&tail=true&source=agent")]
    [InlineData(new[] { "-n", "7" }, "/logs?num=7")]
    public void Cli_TakesHerokusSpellings(string[] arguments, string expected)
    {
        Assert.True(RedisAgent.Cli.LogsCommand.TryParse([.. arguments, "--url", "http://127.0.0.1:9"], out var request, out var problem), problem);
        Assert.Equal(expected, request.PathAndQuery);
    }

    /// <summary>
    /// <c>logs -t</c> against an agent that is killed mid-tail: one line saying so and exit 1, never
    /// a stack trace (issue 18: it crashed with exit 134).
    /// </summary>
    [Fact]
    public async Task CLI_tail_when_the_agent_goes_away_says_so_in_one_line_and_exits_1()
    {
        using var state = new TempDirectory("tail-gone");
        var url = $"http://127.0.0.1:{LoopbackPorts.Free()}";
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["Urls"] = url,
            ["REDIS_URL"] = $"redis://127.0.0.1:{LoopbackPorts.Free()}",
            ["Restart__Driver"] = "none",
            ["Agent__StateDirectory"] = state.Path,
            ["Logs__Resource"] = "gone-test",
        });
        await Poll.UntilAsync(async () =>
        {
            try
            {
                return (await _http.GetAsync(new Uri(new Uri(url), "/healthz"))).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, Deadline, () => "the agent listens: " + agent.Output);
        await using var cli = AgentProcess.Start(new Dictionary<string, string>(), "logs", "-t", "--url", url);
        // Its history first: the agent's start-up lines, then the tail is open.
        await Poll.UntilAsync(() => cli.Output.Contains("agent[gone-test]:", StringComparison.Ordinal), Deadline, () => "the CLI printed the history: " + cli.Output + agent.Output);

        Signals.Send(agent.ProcessId, Signals.SigKill);

        Assert.Equal(RedisAgent.Cli.LogsCommand.LostExitCode, await cli.WaitForExitAsync(Deadline));
        Assert.Contains($"redis-agent logs: the agent at {url}", cli.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", cli.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", cli.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CLI_no_agent_there_says_so_and_exit_69()
    {
        await using var cli = AgentProcess.Start(new Dictionary<string, string>(), "logs", "--url", $"http://127.0.0.1:{LoopbackPorts.Free()}");

        Assert.Equal(RedisAgent.Cli.LogsCommand.UnavailableExitCode, await cli.WaitForExitAsync(Deadline));
        Assert.Contains("cannot reach the agent", cli.Output, StringComparison.Ordinal);
    }
}
