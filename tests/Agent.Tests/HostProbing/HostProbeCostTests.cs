using System.Globalization;
using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;

namespace RedisAgent.Tests.HostProbing;

/// <summary>
/// Issue 16, item 7: probing a host must not cost it a process. The published agent probes an sshd
/// whose every command is forced to leave a mark: by default nothing runs (the mark never appears
/// in dozens of probes), and with <c>Ssh:CheckCommand</c> set it does (the test can fail).
/// </summary>
[Collection(LoopbackHostsCollection.Name)]
public sealed class HostProbeCostTests(LoopbackHosts hosts)
{
    [Fact]
    public async Task The_default_host_probe_starts_nothing_on_the_host_and_a_check_command_does()
    {
        using var marks = new TempDirectory("probe-marks");
        var mark = marks.File("ran");
        await using var sshd = await SshServer.StartAsync("127.0.0.1", hosts.Keys.ClientKey + ".pub", [$"ForceCommand touch {mark}"]);
        await using var redis = await RedisServer.StartAsync();

        var port = LoopbackPorts.Free();
        await using (var agent = Start(sshd, redis, marks, port, checkCommand: null))
        {
            await Poll.UntilAsync(async () => HostProbes(await MetricsAsync(port)) >= 25, TimeSpan.FromSeconds(30),
                () => "25 host probes\n" + agent.Output);
            var metrics = await MetricsAsync(port);
            Assert.Contains("redis_agent_host_verdict{target=\"local\",verdict=\"up\"} 1", metrics, StringComparison.Ordinal);
            Assert.False(File.Exists(mark), "a default host probe ran a command on the host\n" + agent.Output);
            Assert.Contains("a bare channel on a kept session", agent.Output, StringComparison.Ordinal);
        }

        await using (var agent = Start(sshd, redis, marks, LoopbackPorts.Free(), checkCommand: "true"))
        {
            await Poll.UntilAsync(() => File.Exists(mark), TimeSpan.FromSeconds(30), () => "the check command ran on the host\n" + agent.Output);
        }
    }

    private AgentProcess Start(SshServer sshd, RedisServer redis, TempDirectory state, int port, string? checkCommand)
    {
        var environment = new Dictionary<string, string>
        {
            ["REDIS_URL"] = redis.Url,
            ["Restart__Driver"] = "none",
            ["Agent__StateDirectory"] = state.File("agent-" + (checkCommand ?? "default")),
            ["Agent__NodeName"] = "local",
            ["Urls"] = $"http://127.0.0.1:{port}",
            ["Ssh__Host"] = sshd.Address,
            ["Ssh__Port"] = sshd.Port.ToString(CultureInfo.InvariantCulture),
            ["Ssh__User"] = "root",
            ["Ssh__KeyFile"] = hosts.Keys.ClientKey,
            ["Ssh__HostKeySha256"] = sshd.HostKeySha256,
            ["Ssh__Interval"] = "00:00:00.100",
        };
        if (checkCommand is not null)
        {
            environment["Ssh__CheckCommand"] = checkCommand;
        }

        return AgentProcess.Start(environment);
    }

    private static async Task<string> MetricsAsync(int port)
    {
        using var http = new HttpClient();
        try
        {
            return await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
        }
        catch (HttpRequestException)
        {
            return ""; // not listening yet
        }
    }

    private static long HostProbes(string metrics) => metrics.Split('\n')
        .Where(l => l.StartsWith("redis_agent_probe_duration_seconds_count{", StringComparison.Ordinal) && l.Contains("kind=\"host\"", StringComparison.Ordinal))
        .Sum(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
}
