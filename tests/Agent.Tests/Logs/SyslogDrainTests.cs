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
    [InlineData("tcp")]
    [InlineData("udp")]
    public async Task RedisLines_ArriveAtRsyslogExactlyAsTheAgentFormatsThem(string transport)
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Logs:Resource"] = "redis-clear-69157",
            ["Logs:Syslog:Url"] = transport == "tcp" ? _rsyslog.TcpUrl : _rsyslog.UdpUrl,
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

    [Fact]
    public async Task HostileLogMessage_CannotForgeALineAtTheDrain()
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
    public async Task AgentEvents_GoIntoTheSameStreamAsAgentLines()
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
