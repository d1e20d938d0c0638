using System.Text.RegularExpressions;
using RedisAgent.Logs;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Logs;

/// <summary>Redis's own lines, from a real redis-server, to a real rsyslogd, over TCP and UDP.</summary>
public sealed partial class SyslogDrainTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private RsyslogServer _rsyslog = null!;

    public async Task InitializeAsync() => _rsyslog = await RsyslogServer.StartAsync();

    public async Task DisposeAsync() => await _rsyslog.DisposeAsync();

    [Theory]
    [InlineData("tcp", null)]
    [InlineData("udp", null)]
    [InlineData("tcp", "[origin@32473 software=\"redis-agent\"]")]
    public async Task Redis_lines_arrive_at_rsyslog_exactly_as_the_agent_formats_them(string transport, string? structuredData)
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Logs:Resource"] = "redis-clear-69157",
            ["Logs:Syslog:Url"] = transport == "tcp" ? _rsyslog.TcpUrl : _rsyslog.UdpUrl,
            ["Logs:Syslog:StructuredData"] = structuredData,
        });

        await Poll.UntilAsync(
            () => agent.LogBus.History().Any(l => l.Text.Contains("Ready to accept connections", StringComparison.Ordinal)),
            Deadline, () => "no ready line in the agent's stream");
        var expected = agent.LogBus.History().Where(l => l.Source == LogSource.Redis).Select(l => l.Format("redis-clear-69157")).ToList();

        await Poll.UntilAsync(() => expected.All(_rsyslog.Lines.Contains), Deadline,
            () => $"missing at rsyslog:\n{string.Join('\n', expected.Except(_rsyslog.Lines))}\nreceived:\n{string.Join('\n', _rsyslog.Lines)}");
        Assert.Contains(expected, l => ReadyLine().IsMatch(l));
        var sink = agent.LogBus.Sinks.Single();
        await Poll.UntilAsync(() => sink.Counters.Queued == 0, Deadline, () => sink.Counters.ToString());
        Assert.Equal(sink.Counters.Received, sink.Counters.Shipped);
    }

    /// <summary>The issue's whole path: Redis writing its log file, the agent following it, one line everywhere the same.</summary>
    [Theory]
    [InlineData("tcp")]
    [InlineData("udp")]
    public async Task Redis_log_file_exact_lines_at_rsyslog_at_the_live_tail_and_through_the_CLI(string transport)
    {
        await using var redis = await RedisServer.StartAsync(new RedisServerOptions { Daemonize = true, Arguments = ["--enable-debug-command", "yes"] });
        await using var agent = await AgentUnderTest.StartAsync(new Dictionary<string, string?>
        {
            ["Redis:Url"] = redis.Url,
            ["Restart:Driver"] = "none",
            ["Logs:Resource"] = "redis-clear-69157",
            ["Logs:File"] = redis.LogFile,
            ["Logs:FileFromStart"] = "true",
            ["Logs:FilePollInterval"] = "00:00:00.050",
            ["Logs:Syslog:Url"] = transport == "tcp" ? _rsyslog.TcpUrl : _rsyslog.UdpUrl,
        });
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        using var tail = await http.GetAsync(new Uri(agent.HttpAddress, "/logs?num=1500&tail=true&source=redis"), HttpCompletionOption.ResponseHeadersRead);
        var tailReader = new StreamReader(await tail.Content.ReadAsStreamAsync());

        Assert.Equal("OK", await Resp.CommandAsync(redis.Host, redis.Port, "DEBUG", "LOG", "the last line"));
        await Poll.UntilAsync(() => agent.LogBus.History().Any(l => l.Text.EndsWith("the last line", StringComparison.Ordinal)), Deadline,
            () => "the agent never read the file:\n" + agent.Logs.Text);
        var expected = agent.LogBus.History().Where(l => l.Source == LogSource.Redis).Select(l => l.Format("redis-clear-69157")).ToList();

        // At the drain.
        await Poll.UntilAsync(() => expected.All(_rsyslog.Lines.Contains), Deadline,
            () => $"missing at rsyslog:\n{string.Join('\n', expected.Except(_rsyslog.Lines))}");
        // At the live tail.
        var tailed = new List<string>();
        while (tailed.Count < expected.Count)
        {
            tailed.Add((await tailReader.ReadLineAsync().WaitAsync(Deadline))!);
        }

        Assert.Equal(expected, tailed);
        // Through the CLI.
        await using var cli = AgentProcess.Start(new Dictionary<string, string>(), "logs", "-s", "redis", "-n", "1500", "--url", agent.HttpAddress.ToString());
        Assert.Equal(0, await cli.WaitForExitAsync(Deadline));
        Assert.Equal(expected, cli.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.EndsWith("redis[redis-clear-69157]: # DEBUG LOG: the last line", expected[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Drain_restarted_the_sink_reconnects_and_lines_flow_again()
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Logs:Resource"] = "res",
            ["Logs:Syslog:Url"] = _rsyslog.TcpUrl,
            ["Exec:Arguments:0"] = "--enable-debug-command",
            ["Exec:Arguments:1"] = "yes",
        });
        await Poll.UntilAsync(() => _rsyslog.Lines.Any(l => l.Contains("Ready to accept connections", StringComparison.Ordinal)), Deadline,
            () => string.Join('\n', _rsyslog.Lines));

        await _rsyslog.RestartAsync();
        // The first write after the drain died may vanish into the dead connection (see docs/agent.md);
        // keep writing until the reconnected sink delivers.
        await Poll.UntilAsync(async () =>
        {
            await Resp.CommandAsync("127.0.0.1", agent.Port, "DEBUG", "LOG", "after the restart");
            return _rsyslog.Lines.Any(l => l.EndsWith("after the restart", StringComparison.Ordinal));
        }, Deadline, () => agent.Logs.Text);

        Assert.Contains(agent.Logs.Entries, e => e.EventId == 1502);
        var counters = agent.LogBus.Sinks.Single().Counters;
        Assert.Equal(counters.Received, counters.Shipped + counters.Dropped + counters.Queued);
    }

    [Fact]
    public async Task Hostile_log_message_cannot_forge_a_line_at_the_drain()
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Logs:Resource"] = "victim",
            ["Logs:Syslog:Url"] = _rsyslog.TcpUrl,
            ["Exec:Arguments:0"] = "--enable-debug-command",
            ["Exec:Arguments:1"] = "yes",
        });

        // DEBUG LOG writes its argument into Redis's log as it is.
        await Resp.CommandAsync("127.0.0.1", agent.Port, "DEBUG", "LOG", "evil\r\u001b[31m\u0085 2016-04-22T21:25:10Z redis[other]: * forged");
        await Poll.UntilAsync(() => _rsyslog.Lines.Any(l => l.Contains("evil", StringComparison.Ordinal)), Deadline,
            () => string.Join('\n', _rsyslog.Lines));

        Assert.All(_rsyslog.Lines, l => Assert.Matches(RouterLine(), l));
        var evil = _rsyslog.Lines.Single(l => l.Contains("evil", StringComparison.Ordinal));
        Assert.StartsWith("20", evil, StringComparison.Ordinal);
        Assert.EndsWith(@"redis[victim]: # DEBUG LOG: evil\r\x1b[31m\x85 2016-04-22T21:25:10Z redis[other]: * forged", evil, StringComparison.Ordinal);
        Assert.DoesNotContain(_rsyslog.Lines, l => l.Contains("redis[other]", StringComparison.Ordinal) && !l.Contains("evil", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Agent_events_go_into_the_same_stream_as_agent_lines()
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Logs:Resource"] = "res",
            ["Logs:Syslog:Url"] = _rsyslog.TcpUrl,
        });

        Signals.Send(agent.ExecProcessId!.Value, Signals.SigKill);

        await Poll.UntilAsync(
            () => _rsyslog.Lines.Any(l => l.Contains("agent[res]: # Restarted redis with the exec driver", StringComparison.Ordinal)),
            Deadline, () => string.Join('\n', _rsyslog.Lines));
        Assert.Contains(_rsyslog.Lines, l => l.Contains("redis[res]: ", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z redis\[redis-clear-69157\]: \* Ready to accept connections")]
    private static partial Regex ReadyLine();

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z (redis|agent)\[victim\]: ")]
    private static partial Regex RouterLine();
}
