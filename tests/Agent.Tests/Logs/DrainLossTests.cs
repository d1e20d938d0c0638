using System.Globalization;
using System.Text.RegularExpressions;
using RedisAgent.Logs;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Logs;

/// <summary>
/// Issue 18: a drain that freezes, then dies. TCP acknowledged every line written during the
/// freeze (into the frozen drain's receive buffer), so they were counted shipped and then lost
/// with nothing to show it. Now the agent says in-line, at the drain's next connection, how many
/// lines (and from when to when) it wrote that the drain was not seen to read, and counts them.
/// </summary>
public sealed partial class DrainLossTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_drain_frozen_then_killed_is_told_in_line_how_many_lines_it_may_have_lost()
    {
        await using var rsyslog = await RsyslogServer.StartAsync();
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Logs:Resource"] = "loss",
            ["Logs:Syslog:Url"] = rsyslog.TcpUrl,
            ["Exec:Arguments:0"] = "--enable-debug-command",
            ["Exec:Arguments:1"] = "yes",
        });
        var sink = agent.LogBus.Sinks.Single();
        await Poll.UntilAsync(() => rsyslog.Lines.Any(l => l.Contains("Ready to accept connections", StringComparison.Ordinal)), Deadline,
            () => "rsyslog never got the ready line:\n" + agent.Logs.Text);
        await using var client = await RespClient.ConnectAsync("127.0.0.1", agent.Port);
        await client.CommandAsync("DEBUG", "LOG", "before-the-freeze");
        await Poll.UntilAsync(() => rsyslog.Lines.Any(l => l.EndsWith("before-the-freeze", StringComparison.Ordinal)), Deadline, () => "no line before the freeze");
        Assert.Equal(0, sink.Counters.Dropped);

        // Frozen: its kernel still acknowledges into its receive buffer.
        Signals.Send(rsyslog.ProcessId, Signals.SigStop);
        for (var i = 0; i < 100; i++)
        {
            await client.CommandAsync("DEBUG", "LOG", $"frozen-{i}");
        }

        await Poll.UntilAsync(() => agent.LogBus.History().Any(l => l.Text.EndsWith("frozen-99", StringComparison.Ordinal)) && sink.Counters.Queued == 0,
            Deadline, () => "the frozen lines were not all written: " + sink.Counters);
        Assert.Equal(0, sink.Counters.Dropped);

        // Killed (its buffer goes with it) and started again on the same port.
        await rsyslog.RestartAsync();
        // The agent learns the connection died when it next writes on it.
        var nudge = 0;
        await Poll.UntilAsync(async () =>
        {
            await client.CommandAsync("DEBUG", "LOG", $"nudge-{nudge++}");
            return agent.Logs.Contains(1515);
        }, Deadline, () => "no event 1515:\n" + agent.Logs.Text);

        var marker = agent.Logs.Text.Split('\n').First(l => l.Contains("[1515]", StringComparison.Ordinal));
        var match = Unconfirmed().Match(marker);
        Assert.True(match.Success, marker);
        var flagged = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        // In-line, at the drain itself, on its next connection.
        await Poll.UntilAsync(() => rsyslog.Lines.Any(l => l.Contains("agent[loss]: # Syslog drain", StringComparison.Ordinal) && l.Contains("may not have reached it", StringComparison.Ordinal)),
            Deadline, () => "the marker never reached the drain:\n" + string.Join('\n', rsyslog.Lines.TakeLast(20)));

        var lost = Enumerable.Range(0, 100).Count(i => !rsyslog.Lines.Any(l => l.EndsWith($"frozen-{i}", StringComparison.Ordinal)));
        Assert.True(lost > 0, "the frozen drain lost nothing: the scenario did not happen");
        Assert.True(flagged >= lost, $"{lost} lines lost, {flagged} flagged: {marker}");
        // How far back the bound reaches depends on the window the drain grew (its kernel's
        // autotuning): TcpDeliveryTests holds the bound itself on explicit samples.
        Assert.Equal(flagged, sink.Counters.Unconfirmed);
        var metrics = await agent.ScrapeAsync();
        Assert.Equal(flagged, metrics["redis_agent_log_sink_unconfirmed_lines_total{sink=\"syslog\"}"]);
    }

    [GeneratedRegex(@"the connection died; up to (\d+) lines written to it")]
    private static partial Regex Unconfirmed();
}
