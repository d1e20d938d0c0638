using System.Diagnostics;
using RedisAgent.Hosting;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Hosting;

/// <summary>
/// The real binary stopped the ways a machine stops it: SIGTERM and SIGINT with live tails
/// attached, SIGHUP, and SIGKILL followed by a new agent. Redis's data must survive each.
/// </summary>
public sealed class AgentStopTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(Signals.SigTerm, 0)]
    [InlineData(Signals.SigTerm, 1)]
    [InlineData(Signals.SigTerm, 200)]
    [InlineData(Signals.SigInt, 1)]
    [InlineData(Signals.SigInt, 200)]
    public async Task Stop_WithLiveTailsAttached_EndsWithinFiveSeconds_AndRedisSavesFirst(int signal, int tails)
    {
        using var state = new TempDirectory("stop");
        var node = new Node(state.Path);
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var readers = new List<HttpResponseMessage>();
        try
        {
            await using (var agent = node.Start())
            {
                await agent.WaitForOutputAsync("is Healthy (was Unknown)", Deadline);
                Assert.Equal("OK", await Resp.CommandAsync("127.0.0.1", node.RedisPort, "SET", "k", "v"));
                // Tails that never read: the worst reader there is.
                for (var i = 0; i < tails; i++)
                {
                    readers.Add(await http.GetAsync($"{node.HttpUrl}/logs?tail=true", HttpCompletionOption.ResponseHeadersRead));
                    Assert.True(readers[^1].IsSuccessStatusCode, $"tail {i}: {readers[^1].StatusCode}");
                }

                var stopwatch = Stopwatch.StartNew();
                agent.Signal(signal);
                Assert.Equal(0, await agent.WaitForExitAsync(Deadline));
                Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"the agent took {stopwatch.Elapsed} to stop with {tails} tails attached");
                Assert.Contains("DB saved on disk", agent.Output, StringComparison.Ordinal);
                Assert.DoesNotContain("did not stop within", agent.Output, StringComparison.Ordinal);
            }

            await using var again = node.Start();
            await again.WaitForOutputAsync("is Healthy (was Unknown)", Deadline);
            Assert.Equal("v", await Resp.CommandAsync("127.0.0.1", node.RedisPort, "GET", "k"));
        }
        finally
        {
            readers.ForEach(r => r.Dispose());
        }
    }

    [Fact]
    public async Task SIGHUP_is_ignored_and_said_so_the_agent_and_Redis_run_on()
    {
        using var state = new TempDirectory("hup");
        var node = new Node(state.Path);
        await using var agent = node.Start();
        await agent.WaitForOutputAsync("is Healthy (was Unknown)", Deadline);
        var redisPid = await Resp.ProcessIdAsync("127.0.0.1", node.RedisPort);

        agent.Signal(Signals.SigHup);

        await agent.WaitForOutputAsync("SIGHUP ignored", Deadline);
        Assert.False(agent.HasExited);
        Assert.Equal(redisPid, await Resp.ProcessIdAsync("127.0.0.1", node.RedisPort));
        agent.Signal(Signals.SigTerm);
        Assert.Equal(0, await agent.WaitForExitAsync(Deadline));
        Assert.True(Signals.IsGone(redisPid), "redis-server outlived the agent");
    }

    /// <summary>
    /// An agent killed outright leaves its server running with a broken output pipe. The next agent
    /// of the same state directory finds it by its pid file, stops it so that it saves, and starts
    /// afresh: no crash loop on a taken port, no data lost.
    /// </summary>
    [Fact]
    public async Task After_SIGKILL_the_next_agent_stops_its_predecessors_server_gracefully_and_starts_afresh()
    {
        using var state = new TempDirectory("orphan");
        var node = new Node(state.Path);
        int orphan;
        await using (var killed = node.Start())
        {
            await killed.WaitForOutputAsync("is Healthy (was Unknown)", Deadline);
            Assert.Equal("OK", await Resp.CommandAsync("127.0.0.1", node.RedisPort, "SET", "k", "v"));
            orphan = await Resp.ProcessIdAsync("127.0.0.1", node.RedisPort);
            killed.Signal(Signals.SigKill);
            await killed.WaitForExitAsync(Deadline);
        }

        try
        {
            Assert.True(await Resp.PingsAsync("127.0.0.1", node.RedisPort), "the server did not outlive its killed agent; nothing to test");
            await using var next = node.Start();

            await next.WaitForOutputAsync("is Healthy (was Unknown)", Deadline);
            Assert.Contains($"redis-server pid {orphan} from an earlier agent is still running", next.Output, StringComparison.Ordinal);
            Assert.True(Signals.IsGone(orphan), "the earlier server still runs");
            Assert.NotEqual(orphan, await Resp.ProcessIdAsync("127.0.0.1", node.RedisPort));
            Assert.Equal("v", await Resp.CommandAsync("127.0.0.1", node.RedisPort, "GET", "k"));
        }
        finally
        {
            if (Signals.IsAlive(orphan))
            {
                Signals.Send(orphan, Signals.SigKill);
            }
        }
    }

    /// <summary>A server the pid file does not name (another program's, or a reused pid) is never touched: the agent refuses to start, as before.</summary>
    [Fact]
    public async Task A_foreign_server_on_the_port_is_never_stopped_the_agent_refuses_to_start()
    {
        using var state = new TempDirectory("foreign");
        await using var foreign = await RedisServer.StartAsync();
        var node = new Node(state.Path, foreign.Port);
        await File.WriteAllTextAsync(Path.Combine(state.Path, $"redis-{foreign.Port}.pid"), $"{await foreign.ProcessIdAsync()}\n1\n/usr/bin/redis-server\n");

        await using var agent = node.Start();

        Assert.Equal(AgentHost.ConfigurationErrorExitCode, await agent.WaitForExitAsync(Deadline));
        Assert.Contains("Something already listens on", agent.Output, StringComparison.Ordinal);
        Assert.True(await Resp.PingsAsync("127.0.0.1", foreign.Port));
    }

    /// <summary>Redis echoes a malformed line of its configuration, password and all: the agent masks it before any line leaves.</summary>
    [Fact]
    public async Task Redis_own_error_lines_never_show_a_configured_password()
    {
        using var state = new TempDirectory("secret");
        var port = LoopbackPorts.Free();
        var config = state.File("redis.conf");
        await File.WriteAllTextAsync(config, $"bind 127.0.0.1\nport {port}\nrequirepass Sekr1t-pass-xyz\nmasterauth Sekr1t-pass-xyz extra\n");
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["REDIS_URL"] = $"redis://:Sekr1t-pass-xyz@127.0.0.1:{port}",
            ["Exec__ConfigFile"] = config,
            ["Exec__InstallIfMissing"] = "false",
            ["Agent__StateDirectory"] = state.Path,
            ["Restart__StartLimitBurst"] = "1",
        });

        await agent.WaitForOutputAsync("wrong number of arguments", Deadline);
        await agent.WaitForOutputAsync(">>> 'masterauth *** ***'", Deadline);
        Assert.DoesNotContain("Sekr1t-pass-xyz", agent.Output, StringComparison.Ordinal);
    }

    /// <summary>One node of the embedded default's shape, on free ports, its state in <paramref name="state"/>.</summary>
    private sealed class Node(string state, int? redisPort = null)
    {
        public int RedisPort { get; } = redisPort ?? LoopbackPorts.Free();

        public string HttpUrl { get; } = $"http://127.0.0.1:{LoopbackPorts.Free()}";

        public AgentProcess Start() => AgentProcess.Start(new Dictionary<string, string>
        {
            ["REDIS_URL"] = $"redis://127.0.0.1:{RedisPort}",
            ["Urls"] = HttpUrl,
            ["Agent__StateDirectory"] = state,
            ["Exec__InstallIfMissing"] = "false",
            // Up to 200 tails, all from this process's one address (Http:MaxConnectionsPerClient is 100).
            ["Http__MaxConnectionsPerClient"] = "1000",
        });
    }
}
