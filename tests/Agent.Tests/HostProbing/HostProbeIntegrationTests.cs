using System.Diagnostics;
using RedisAgent.HostProbing;
using RedisAgent.Probing;
using RedisAgent.Supervision;
using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;
using RedisAgent.Node;

namespace RedisAgent.Tests.HostProbing;

/// <summary>
/// Three hosts on loopback aliases, each with its own sshd and redis-server; an agent on host 1
/// watches its own node and the other two as peers.
/// </summary>
[Collection(LoopbackHostsCollection.Name)]
public sealed class HostProbeIntegrationTests(LoopbackHosts hosts) : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private TestHost _host1 = null!;
    private TestHost _host2 = null!;
    private TestHost _host3 = null!;

    public async Task InitializeAsync()
    {
        _host1 = await hosts.StartAsync(1);
        _host2 = await hosts.StartAsync(2);
        _host3 = await hosts.StartAsync(3);
    }

    public async Task DisposeAsync()
    {
        await _host1.DisposeAsync();
        await _host2.DisposeAsync();
        await _host3.DisposeAsync();
    }

    [Fact]
    public async Task Redis_killed_on_a_peer_is_process_down_there_and_the_SSH_driver_brings_it_back()
    {
        await using var observer = await StartObserverAsync(_host2);
        using var scratch = new TempDirectory("ssh-driver");
        var startArguments = scratch.File("start-arguments");
        var remote = new Dictionary<string, string?>(_host2.SshSettings("Ssh", hosts.Keys.ClientKey))
        {
            ["Redis:Url"] = _host2.Redis.Url,
            ["Agent:NodeName"] = "host-2",
            ["Restart:Driver"] = "ssh",
            // The start arguments arrive in the remote shell (none here: no coordinator asked for a fence).
            ["Restart:SshCommand"] = $"printf '[%s]' \"$REDIS_AGENT_START_ARGS\" > {startArguments}; {_host2.Redis.FenceableDaemonCommand}",
            // Slower to decide than the observer, so the observer surely sees the process down.
            ["Verdict:FailuresToDown"] = "8",
        };
        await using var agentForHost2 = await AgentUnderTest.StartAsync(remote);
        await agentForHost2.WaitForAsync(s => s.Verdict == NodeVerdict.Healthy, Deadline, "host 2's agent sees its node healthy");
        await observer.WaitForTargetAsync("host-2", t => t.Verdict == NodeVerdict.Healthy && t.HostVerdict == HostVerdict.Up, Deadline, "peer healthy");
        var pid = await _host2.Redis.ProcessIdAsync();

        Signals.Send(pid, Signals.SigKill);

        await Poll.UntilAsync(
            () => observer.Logs.Entries.Any(e => e.EventId == 1005 && e.Message.StartsWith("host-2 is ProcessDown", StringComparison.Ordinal)),
            Deadline,
            () => "the observer never judged host-2 ProcessDown:\n" + observer.Logs.Text);
        await agentForHost2.WaitForAsync(s => s.Restarts == 1 && s.Phase == SupervisorPhase.Watching, Deadline, "restarted over SSH");
        await observer.WaitForTargetAsync("host-2", t => t.Verdict == NodeVerdict.Healthy, Deadline, "peer healthy again");
        Assert.NotEqual(pid, await _host2.Redis.ProcessIdAsync());
        Assert.Equal("[]", await File.ReadAllTextAsync(startArguments));
        Assert.Equal(RestartTrigger.ProbeFailures, agentForHost2.Snapshot.LastRestart!.Cause.Trigger);
        Assert.DoesNotContain(observer.Logs.Entries, e => e.Message.StartsWith("host-2 is HostUnreachable", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Dropped_host_is_host_unreachable_and_healthy_again_when_the_rule_goes()
    {
        var settings = PeerSettings(_host2, _host3);
        // Host probes every 5 minutes: only the silent port waking the host loop can reach a verdict in time.
        settings["Peers:0:Ssh:Interval"] = "00:05:00";
        await using var observer = await StartObserverAsync(settings);
        await observer.WaitForTargetAsync("host-2", t => t.Verdict == NodeVerdict.Healthy && t.HostVerdict == HostVerdict.Up, Deadline, "peer healthy");

        using (Partition.Isolate(_host2.Address))
        {
            await observer.WaitForTargetAsync("host-2", t => t.Verdict == NodeVerdict.HostUnreachable, Deadline, "unreachable while dropped");
            var host3 = observer.Book["host-3"]!;
            Assert.Equal(NodeVerdict.Healthy, host3.Verdict);
        }

        await observer.WaitForTargetAsync("host-2", t => t.Verdict == NodeVerdict.Healthy && t.HostVerdict == HostVerdict.Up, Deadline, "healthy after the rule is removed");
        Assert.Equal(NodeVerdict.Healthy, observer.Snapshot.Verdict);
    }

    [Fact]
    public async Task Own_nodes_host_lost_is_not_restarted_and_asks_for_a_failover_then_resumes()
    {
        using var scratch = new TempDirectory("marker");
        var marker = scratch.File("restarted");
        var settings = new Dictionary<string, string?>(_host2.SshSettings("Ssh", hosts.Keys.ClientKey))
        {
            ["Redis:Url"] = _host2.Redis.Url,
            ["Agent:NodeName"] = "host-2",
            ["Restart:Driver"] = "ssh",
            ["Restart:SshCommand"] = $"touch {marker}",
        };
        await using var agent = await AgentUnderTest.StartAsync(settings);
        await agent.WaitForAsync(s => s.Verdict == NodeVerdict.Healthy, Deadline, "healthy");

        using (Partition.Isolate(_host2.Address))
        {
            await agent.WaitForAsync(s => s.Phase == SupervisorPhase.HostUnreachable, Deadline, "host lost");
            Assert.Contains("host unreachable", agent.Snapshot.NeedsFailover, StringComparison.Ordinal);
            // The phase is published before the critical line is written: waited for, not assumed.
            await Poll.UntilAsync(() => agent.Logs.Contains(1112), Deadline, () => "no 'NOT restarting' (1112):\n" + agent.Logs.Text);
        }

        await agent.WaitForAsync(s => s.Phase == SupervisorPhase.Watching && s.Verdict == NodeVerdict.Healthy, Deadline, "back");
        Assert.True(agent.Snapshot.Restarts == 0, $"restarted {agent.Snapshot.Restarts} times after the host came back:\n" +
            string.Join('\n', agent.Logs.Entries.Select(e => $"{e.At:HH:mm:ss.fff} [{e.EventId}] {e.Message}")));
        Assert.False(File.Exists(marker), "the restart command ran against a lost host");
        Assert.Null(agent.Snapshot.NeedsFailover);
    }

    [Fact]
    public async Task Sshd_stopped_but_Redis_alive_is_never_host_unreachable()
    {
        await using var observer = await StartObserverAsync(_host2);
        await observer.WaitForTargetAsync("host-2", t => t.Verdict == NodeVerdict.Healthy && t.HostVerdict == HostVerdict.Up, Deadline, "peer healthy");

        await _host2.Ssh.StopAsync();

        await observer.WaitForTargetAsync("host-2", t => t.HostOutcomes.GetValueOrDefault(HostProbeOutcome.Refused) >= 5, Deadline, "five refused SSH probes");
        var peer = observer.Book["host-2"]!;
        Assert.Equal(NodeVerdict.Healthy, peer.Verdict);
        Assert.Equal(HostVerdict.Up, peer.HostVerdict);
        Assert.DoesNotContain(observer.Logs.Entries, e => e.EventId == 1006);
    }

    [Fact]
    public async Task Wrong_host_key_and_wrong_user_key_are_configuration_errors_not_host_verdicts()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Peers:0:Name"] = "host-2",
            ["Peers:0:Url"] = _host2.Redis.Url,
            ["Peers:1:Name"] = "host-3",
            ["Peers:1:Url"] = _host3.Redis.Url,
        };
        // host-2 pinned to host-3's key: a changed (or spoofed) host key. host-3 reached with a key it does not know.
        Merge(settings, _host2.SshSettings("Peers:0:Ssh", hosts.Keys.ClientKey, hostKeySha256: _host3.Ssh.HostKeySha256));
        Merge(settings, _host3.SshSettings("Peers:1:Ssh", hosts.Keys.StrangerKey));
        await using var observer = await StartObserverAsync(settings);

        await observer.WaitForTargetAsync("host-2", t => t.HostVerdict == HostVerdict.Misconfigured, Deadline, "host key refused");
        await observer.WaitForTargetAsync("host-3", t => t.HostVerdict == HostVerdict.Misconfigured, Deadline, "user key refused");

        var host2 = observer.Book["host-2"]!;
        var host3 = observer.Book["host-3"]!;
        Assert.Equal(HostProbeOutcome.HostKeyRejected, host2.LastHost!.Outcome);
        Assert.Contains(_host3.Ssh.HostKeySha256, host2.LastHost.Detail, StringComparison.Ordinal);
        Assert.Equal(HostProbeOutcome.AuthFailed, host3.LastHost!.Outcome);
        Assert.Equal(NodeVerdict.Healthy, host2.Verdict);
        Assert.Equal(NodeVerdict.Healthy, host3.Verdict);
        Assert.Equal(2, observer.Logs.Entries.Count(e => e.EventId == 1022));
    }

    [Fact]
    public async Task Known_hosts_file_pins_the_host()
    {
        using var scratch = new TempDirectory("known-hosts");
        var knownHosts = scratch.File("known_hosts");
        var publicKey = (await File.ReadAllTextAsync(_host2.Ssh.HostKeyFile + ".pub")).Split(' ');
        await File.WriteAllTextAsync(knownHosts, $"# test\n[{_host2.Address}]:{_host2.Ssh.Port} {publicKey[0]} {publicKey[1]}\n");
        var settings = new Dictionary<string, string?> { ["Peers:0:Name"] = "host-2", ["Peers:0:Url"] = _host2.Redis.Url };
        Merge(settings, _host2.SshSettings("Peers:0:Ssh", hosts.Keys.ClientKey));
        settings["Peers:0:Ssh:HostKeySha256"] = null;
        settings["Peers:0:Ssh:KnownHostsFile"] = knownHosts;

        await using var observer = await StartObserverAsync(settings);

        await observer.WaitForTargetAsync("host-2", t => t.HostVerdict == HostVerdict.Up && t.LastHost!.Outcome == HostProbeOutcome.Answered, Deadline, "trusted through known_hosts");
    }

    [Fact]
    public async Task Dropped_peer_does_not_slow_the_local_probes()
    {
        await using var observer = await StartObserverAsync(_host2);
        await observer.WaitForTargetAsync("host-2", t => t.Verdict == NodeVerdict.Healthy, Deadline, "peer healthy");

        using var partition = Partition.Isolate(_host2.Address);
        var clock = Stopwatch.StartNew();
        var localBefore = observer.Snapshot.Probes;
        await observer.WaitForTargetAsync("host-2", t => t.Verdict == NodeVerdict.HostUnreachable, Deadline, "unreachable");
        var elapsed = clock.Elapsed;
        var localProbes = observer.Snapshot.Probes - localBefore;

        // The local loop probes every 100 ms; while the peer's probes each wait out a 0.5-1 s timeout,
        // a shared loop would manage only a handful. Generous: at least 40% of the cadence.
        var expected = elapsed / TimeSpan.FromMilliseconds(100);
        Assert.True(localProbes >= expected * 0.4, $"{localProbes} local probes in {elapsed.TotalSeconds:0.0} s (cadence would give {expected:0})");
        var peer = observer.Book["host-2"]!;
        Assert.True(peer.HostOutcomes.GetValueOrDefault(HostProbeOutcome.Timeout) >= 3, AgentUnderTest.Describe(peer));
    }

    [Theory]
    [InlineData("unpinned", "Peers:0:Ssh:HostKeySha256 or Peers:0:Ssh:KnownHostsFile is required")]
    [InlineData("bad-pin", "Peers:0:Ssh:HostKeySha256 is not a SHA-256 host key fingerprint")]
    [InlineData("no-key", "Peers:0:Ssh:KeyFile '/nonexistent/key' does not exist")]
    [InlineData("not-a-key", "Peers:0:Ssh:KeyFile")]
    [InlineData("ssh-driver-without-key", "Restart:Driver is ssh, which needs Ssh:KeyFile")]
    [InlineData("no-name", "Peers:0:Name is required")]
    public async Task BadSshConfiguration_StopsTheAgentAtStartNamingTheKey(string fault, string expected)
    {
        using var scratch = new TempDirectory("ssh-config");
        var environment = new Dictionary<string, string>
        {
            ["REDIS_URL"] = _host1.Redis.Url,
            ["Restart__Driver"] = "none",
            ["Peers__0__Name"] = "host-2",
            ["Peers__0__Url"] = _host2.Redis.Url,
            ["Peers__0__Ssh__KeyFile"] = hosts.Keys.ClientKey,
            ["Peers__0__Ssh__HostKeySha256"] = _host2.Ssh.HostKeySha256,
        };
        switch (fault)
        {
            case "unpinned":
                environment.Remove("Peers__0__Ssh__HostKeySha256");
                environment["Peers__0__Ssh__KnownHostsFile"] = scratch.File("absent_known_hosts");
                break;
            case "bad-pin":
                environment["Peers__0__Ssh__HostKeySha256"] = "SHA256:nope";
                break;
            case "no-key":
                environment["Peers__0__Ssh__KeyFile"] = "/nonexistent/key";
                break;
            case "not-a-key":
                await File.WriteAllTextAsync(scratch.File("garbage"), "not a key");
                environment["Peers__0__Ssh__KeyFile"] = scratch.File("garbage");
                break;
            case "ssh-driver-without-key":
                environment["Restart__Driver"] = "ssh";
                break;
            case "no-name":
                environment.Remove("Peers__0__Name");
                break;
        }

        await using var agent = AgentProcess.Start(environment);

        Assert.Equal(RedisAgent.Hosting.AgentHost.ConfigurationErrorExitCode, await agent.WaitForExitAsync(Deadline));
        Assert.Contains(expected, agent.Output, StringComparison.Ordinal);
    }

    private Task<AgentUnderTest> StartObserverAsync(params TestHost[] peers) => StartObserverAsync(PeerSettings(peers));

    private Dictionary<string, string?> PeerSettings(params TestHost[] peers)
    {
        var settings = new Dictionary<string, string?>();
        for (var i = 0; i < peers.Length; i++)
        {
            settings[$"Peers:{i}:Name"] = peers[i].Name;
            settings[$"Peers:{i}:Url"] = peers[i].Redis.Url;
            Merge(settings, peers[i].SshSettings($"Peers:{i}:Ssh", hosts.Keys.ClientKey));
        }

        return settings;
    }

    /// <summary>An agent on host 1: its own node is host 1's redis; it only observes (driver none).</summary>
    private async Task<AgentUnderTest> StartObserverAsync(Dictionary<string, string?> peers)
    {
        var settings = new Dictionary<string, string?>(peers)
        {
            ["Redis:Url"] = _host1.Redis.Url,
            ["Agent:NodeName"] = "host-1",
            ["Restart:Driver"] = "none",
        };
        var agent = await AgentUnderTest.StartAsync(settings);
        await agent.WaitForAsync(s => s.Verdict == NodeVerdict.Healthy, Deadline, "host 1 healthy");
        return agent;
    }

    private static void Merge(Dictionary<string, string?> into, Dictionary<string, string?> from)
    {
        foreach (var (key, value) in from)
        {
            into[key] = value;
        }
    }
}
