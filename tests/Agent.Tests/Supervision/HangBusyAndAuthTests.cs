using RedisAgent.Probing;
using RedisAgent.Supervision;
using RedisAgent.Testing;
using RedisAgent.Node;

namespace RedisAgent.Tests.Supervision;

/// <summary>What must be restarted (a hang) and what must not (busy, a slow command, a wrong password).</summary>
public sealed class HangBusyAndAuthTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Exec_driver_sig_stop_is_hung_after_the_threshold_then_killed_and_restarted()
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?> { ["Verdict:HangThreshold"] = "00:00:01" });
        var port = agent.Port;
        var pid = agent.ExecProcessId!.Value;
        var stoppedAt = DateTimeOffset.UtcNow;

        Signals.Send(pid, Signals.SigStop);

        await agent.WaitForAsync(s => s.Restarts == 1 && s.Phase == SupervisorPhase.Watching, Deadline, "killed and restarted as hung");
        var restart = agent.Snapshot.LastRestart!;
        Assert.Equal(RestartTrigger.Hang, restart.Cause.Trigger);
        Assert.True(restart.At - stoppedAt >= TimeSpan.FromSeconds(1), $"restarted {restart.At - stoppedAt} after SIGSTOP, before the 1 s threshold");
        Assert.NotEqual(pid, await Resp.ProcessIdAsync("127.0.0.1", port));
        Assert.False(Signals.IsAlive(pid) && !Signals.IsGone(pid), "the hung server was not killed");
    }

    [Fact]
    public async Task Debug_sleep_shorter_than_the_hang_threshold_is_not_restarted()
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Verdict:HangThreshold"] = "00:00:03",
            ["Exec:Arguments:0"] = "--enable-debug-command",
            ["Exec:Arguments:1"] = "yes",
        });
        var port = agent.Port;
        var pid = agent.ExecProcessId!.Value;

        await Resp.CommandAsync("127.0.0.1", port, "DEBUG", "SLEEP", "1.5");
        var probesAfterSleep = agent.Snapshot.Probes;
        await agent.WaitForAsync(s => s.Probes >= probesAfterSleep + 5 && s.Verdict == NodeVerdict.Healthy, Deadline, "probes go on after the sleep");

        var snapshot = agent.Snapshot;
        Assert.True(snapshot.ProbeOutcomes.GetValueOrDefault(PortProbeOutcome.Hung) >= 1, "the probes never saw the server silent: the test proves nothing");
        Assert.Equal(0, snapshot.Restarts);
        Assert.Equal(pid, await Resp.ProcessIdAsync("127.0.0.1", port));
    }

    [Fact]
    public async Task Busy_script_is_busy_and_never_restarted_even_past_the_hang_threshold()
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Verdict:HangThreshold"] = "00:00:01",
            ["Exec:Arguments:0"] = "--busy-reply-threshold",
            ["Exec:Arguments:1"] = "100",
        });
        var port = agent.Port;
        var pid = agent.ExecProcessId!.Value;
        await using var scriptClient = await RespClient.ConnectAsync("127.0.0.1", port);

        await scriptClient.SendAsync("EVAL", "while true do end", "0");

        await agent.WaitForAsync(
            s => s.Verdict == NodeVerdict.Busy && DateTimeOffset.UtcNow - s.VerdictSince > TimeSpan.FromSeconds(2.5),
            Deadline,
            "busy for well past the 1 s hang threshold");
        Assert.Equal(0, agent.Snapshot.Restarts);
        Assert.Equal("OK", await Resp.CommandAsync("127.0.0.1", port, "SCRIPT", "KILL"));
        await agent.WaitForAsync(s => s.Verdict == NodeVerdict.Healthy, Deadline, "healthy again after SCRIPT KILL");
        Assert.Equal(0, agent.Snapshot.Restarts);
        Assert.Equal(pid, await Resp.ProcessIdAsync("127.0.0.1", port));
        Assert.Contains(agent.Logs.Entries, e => e.EventId == 1003 && e.Message.Contains("-BUSY", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Wrong_password_is_misconfigured_never_restarted_and_no_password_is_logged()
    {
        const string right = "right-Horse-7d1e";
        const string wrong = "wrong-Staple-42ab";
        await using var redis = await RedisServer.StartAsync(new RedisServerOptions { Password = right, Daemonize = true });
        using var scratch = new TempDirectory("marker");
        var marker = scratch.File("restarted");
        await using var agent = await AgentUnderTest.StartAsync(new Dictionary<string, string?>
        {
            ["REDIS_URL"] = $"redis://:{wrong}@127.0.0.1:{redis.Port}",
            ["Restart:Driver"] = "command",
            ["Restart:Command"] = $"touch {marker}",
        });
        var pid = await redis.ProcessIdAsync();

        await agent.WaitForAsync(s => s.Verdict == NodeVerdict.Misconfigured, Deadline, "misconfigured");
        var probes = agent.Snapshot.Probes;
        await agent.WaitForAsync(s => s.Probes >= probes + 20, Deadline, "twenty more probes");

        Assert.Equal(0, agent.Snapshot.Restarts);
        Assert.False(File.Exists(marker), "the restart command ran");
        Assert.Equal(pid, await redis.ProcessIdAsync());
        Assert.Contains(agent.Logs.Entries, e => e.EventId == 1004 && e.Message.Contains("WRONGPASS", StringComparison.Ordinal));
        Assert.DoesNotContain(wrong, agent.Logs.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(right, agent.Logs.Text, StringComparison.Ordinal);
    }
}
