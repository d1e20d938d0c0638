using RedisAgent.Probing;
using RedisAgent.Supervision;
using RedisAgent.Testing;
using RedisAgent.Node;

namespace RedisAgent.Tests.Supervision;

/// <summary>A dead redis-server comes back, through each driver, against real servers.</summary>
public sealed class RestartDriverTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Exec_driver_kill_nine_restarts_at_once_and_keeps_the_password_out_of_the_logs()
    {
        const string password = "pw-Exec-9f3b7c";
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(password: password);
        var port = agent.Port;
        var pid = agent.ExecProcessId!.Value;
        Assert.Equal(pid, await Resp.ProcessIdAsync("127.0.0.1", port, password));

        Signals.Send(pid, Signals.SigKill);

        await agent.WaitForAsync(s => s.Restarts == 1 && s.Phase == SupervisorPhase.Watching, Deadline, "restarted and answering");
        var newPid = await Resp.ProcessIdAsync("127.0.0.1", port, password);
        Assert.NotEqual(pid, newPid);
        Assert.Equal(newPid, agent.ExecProcessId);
        var snapshot = agent.Snapshot;
        Assert.Equal(1, snapshot.RestartsByTrigger[RestartTrigger.Exited]);
        Assert.Equal(9, snapshot.LastExit?.Signal);
        Assert.Contains(agent.Logs.Entries, e => e.EventId == 1101 && e.Message.Contains("SIGKILL", StringComparison.Ordinal));
        Assert.DoesNotContain(password, agent.Logs.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Command_driver_kill_nine_runs_the_command_and_the_server_comes_back()
    {
        await using var redis = await RedisServer.StartAsync(new RedisServerOptions { Daemonize = true });
        await using var agent = await AgentUnderTest.StartAsync(new Dictionary<string, string?>
        {
            ["Redis:Url"] = redis.Url,
            ["Restart:Driver"] = "command",
            ["Restart:Command"] = redis.DaemonCommand,
        });
        await agent.WaitForAsync(s => s.Verdict == NodeVerdict.Healthy, Deadline, "healthy");
        var pid = await redis.ProcessIdAsync();

        Signals.Send(pid, Signals.SigKill);

        await agent.WaitForAsync(s => s.Restarts == 1 && s.Phase == SupervisorPhase.Watching, Deadline, "restarted by the command");
        var newPid = await redis.ProcessIdAsync();
        Assert.NotEqual(pid, newPid);
        Assert.Equal(1, agent.Snapshot.RestartsByTrigger[RestartTrigger.ProbeFailures]);
        Assert.Contains(agent.Logs.Entries, e => e.EventId == 1005 && e.Message.Contains("ProcessDown", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Command_driver_command_fails_is_counted_and_retried_until_the_start_limit()
    {
        await using var redis = await RedisServer.StartAsync(new RedisServerOptions { Daemonize = true });
        await using var agent = await AgentUnderTest.StartAsync(new Dictionary<string, string?>
        {
            ["Redis:Url"] = redis.Url,
            ["Restart:Driver"] = "command",
            ["Restart:Command"] = "echo cannot reach the runtime >&2; exit 3",
            ["Restart:StartLimitBurst"] = "2",
        });
        await agent.WaitForAsync(s => s.Verdict == NodeVerdict.Healthy, Deadline, "healthy");

        Signals.Send(await redis.ProcessIdAsync(), Signals.SigKill);

        await agent.WaitForAsync(s => s.Phase == SupervisorPhase.GaveUp, Deadline, "gave up after failed restarts");
        Assert.Equal(2, agent.Snapshot.Restarts);
        Assert.Contains(agent.Logs.Entries, e => e.EventId == 1105
            && e.Message.Contains("exit code 3", StringComparison.Ordinal)
            && e.Message.Contains("cannot reach the runtime", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Exec_driver_server_that_cannot_start_stops_at_the_start_limit_and_asks_for_a_failover()
    {
        await using var agent = await AgentUnderTest.StartAsync(new Dictionary<string, string?>
        {
            ["Redis:Url"] = $"redis://127.0.0.1:{LoopbackPorts.Free()}",
            ["Restart:Driver"] = "exec",
            ["Restart:StartLimitBurst"] = "3",
            ["Exec:Arguments:0"] = "--loadmodule",
            ["Exec:Arguments:1"] = "/nonexistent/redis-agent-test-module.so",
        });

        await agent.WaitForAsync(s => s.Phase == SupervisorPhase.GaveUp, Deadline, "gave up");

        var snapshot = agent.Snapshot;
        Assert.Equal(3, snapshot.Restarts);
        Assert.Equal(1, snapshot.LastExit?.Code);
        Assert.Contains("start limit", snapshot.NeedsFailover, StringComparison.Ordinal);
        Assert.Null(agent.ExecProcessId);
        Assert.Contains(agent.Logs.Entries, e => e.EventId == 1107);
        // Backoff between attempts: the second and third restarts waited.
        Assert.Equal(2, agent.Logs.Entries.Count(e => e.EventId == 1104));
    }

    [Fact]
    public async Task Exec_driver_port_already_served_refuses_to_start_a_second_server()
    {
        await using var redis = await RedisServer.StartAsync();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => AgentUnderTest.StartAsync(new Dictionary<string, string?>
        {
            ["Redis:Url"] = redis.Url,
            ["Restart:Driver"] = "exec",
        }));

        Assert.Contains("already listens", error.Message, StringComparison.Ordinal);
        Assert.True(await redis.PingsAsync());
    }
}
