using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;
using RedisAgent.Tests.HostProbing;
using RedisFailover.Protos;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// Issue 14: two redis-failover processes (the published binary when CI sets it) on one real etcd
/// cluster of three members, on loopback aliases; three hosts with sshd, redis-server and an agent
/// that knows both coordinators. host-1 is the primary, host-2 and host-3 replicate it.
/// </summary>
[Collection(LoopbackHostsCollection.Name)]
public sealed class CoordinatorHaTests(LoopbackHosts hosts, Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan LeaderTtl = TimeSpan.FromSeconds(3);
    private readonly List<TestHost> _hosts = [];
    private readonly Dictionary<string, AgentUnderTest> _agents = new(StringComparer.Ordinal);
    private readonly List<(string Url, AgentProcess Process)> _coordinators = [];
    private readonly Metadata _headers = new() { { "authorization", "Bearer " + FailoverUnderTest.Token } };
    private EtcdCluster _etcd = null!;
    private string _prefix = "";

    // Each coordinator's Sentinel endpoint, listing the other's as its peer.
    private readonly int[] _sentinelPorts = [LoopbackPorts.Free(), LoopbackPorts.Free()];

    public async Task InitializeAsync()
    {
        _etcd = await EtcdCluster.StartClusterAsync();
        for (var i = 1; i <= 3; i++)
        {
            _hosts.Add(await hosts.StartAsync(i, alsoLoopback: true));
        }

        foreach (var replica in _hosts.Skip(1))
        {
            await Resp.CommandAsync(replica.Address, replica.Redis.Port, "REPLICAOF", _hosts[0].Address, _hosts[0].Redis.Port.ToString(CultureInfo.InvariantCulture));
        }

        var prefix = _prefix = "/test-" + Guid.NewGuid().ToString("N")[..8];
        var urls = new[] { LoopbackPorts.Free(), LoopbackPorts.Free() }.Select(p => $"http://127.0.0.1:{p.ToString(CultureInfo.InvariantCulture)}").ToList();
        for (var i = 0; i < urls.Count; i++)
        {
            _coordinators.Add((urls[i], StartCoordinator(urls[i], prefix, Source(i), _sentinelPorts[i], _sentinelPorts[1 - i])));
        }

        foreach (var host in _hosts)
        {
            _agents[host.Name] = await AgentUnderTest.StartAsync(FailoverUnderTest.AgentSettingsFor(string.Join(',', urls), host, _hosts, hosts.Keys.ClientKey, "cache"));
        }

        await WaitForStatusAsync(s => s.State == ResourceState.Healthy && s.Primary == "host-1" && s.Nodes.All(n => n.Connected), "all three agents connected to the leader, host-1 primary");
    }

    /// <summary>Where coordinator <paramref name="index"/>'s connections to etcd leave from: an alias of its own, so that a partition can cut it alone.</summary>
    private static string Source(int index) => $"127.0.0.{31 + index}";

    private AgentProcess StartCoordinator(string url, string prefix, string source, int sentinelPort, int peerSentinelPort)
    {
        var environment = new Dictionary<string, string>
        {
            ["Urls"] = url,
            ["Failover__Token"] = FailoverUnderTest.Token,
            ["Failover__Window"] = "00:00:05",
            ["Failover__RoundInterval"] = "00:00:01",
            ["Failover__Store"] = "etcd",
            ["Failover__Etcd__Endpoints"] = _etcd.Endpoints,
            ["Failover__Etcd__Prefix"] = prefix,
            ["Failover__Etcd__LeaderTtl"] = LeaderTtl.ToString("c", CultureInfo.InvariantCulture),
            ["Failover__Etcd__RequestTimeout"] = "00:00:01",
            ["Failover__Etcd__SourceAddress"] = source,
            ["Resources__0__Name"] = "cache",
            ["Sentinel__Urls"] = $"127.0.0.1:{sentinelPort.ToString(CultureInfo.InvariantCulture)}",
            ["Sentinel__Peers"] = $"127.0.0.1:{peerSentinelPort.ToString(CultureInfo.InvariantCulture)}",
        };
        for (var i = 0; i < _hosts.Count; i++)
        {
            environment[$"Resources__0__Nodes__{i}__Name"] = _hosts[i].Name;
            environment[$"Resources__0__Nodes__{i}__Address"] = $"{_hosts[i].Address}:{_hosts[i].Redis.Port.ToString(CultureInfo.InvariantCulture)}";
        }

        return AgentProcess.StartBinary(Binaries.Path("redis-failover"), environment);
    }

    public async Task DisposeAsync()
    {
        foreach (var agent in _agents.Values)
        {
            await agent.DisposeAsync();
        }

        foreach (var (_, process) in _coordinators)
        {
            await process.DisposeAsync();
        }

        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        if (_etcd is not null)
        {
            await _etcd.DisposeAsync();
        }
    }

    /// <summary>
    /// Test 1: the leading coordinator is killed with SIGKILL while it confirms a lost host. The other
    /// leads within about the TTL (it must wait for the dead one's key to expire), takes a higher
    /// term, starts the confirmation again from the agents' reports, and fails over exactly once.
    /// </summary>
    [Fact]
    public async Task The_leader_killed_while_confirming_a_lost_host_is_replaced_within_the_ttl_and_the_host_is_failed_over_once()
    {
        var (leaderUrl, before) = await LeaderAsync();
        var leader = _coordinators.Single(c => c.Url == leaderUrl);
        var other = _coordinators.Single(c => c.Url != leaderUrl);
        Assert.Equal(1, before.Term);

        // Issue 15: an application's StackExchange.Redis knows both coordinators as sentinels; each lists the other.
        var otherSentinel = _sentinelPorts[_coordinators.IndexOf(other)];
        var leaderSentinel = _sentinelPorts[_coordinators.IndexOf(leader)];
        Assert.Contains($"ip\n127.0.0.1\nport\n{otherSentinel}\n", await Resp.CommandAsync("127.0.0.1", leaderSentinel, "SENTINEL", "sentinels", "cache"), StringComparison.Ordinal);
        // The follower answers from the store: the same primary.
        Assert.Equal($"{_hosts[0].Address}\n{_hosts[0].Redis.Port}", await Resp.CommandAsync("127.0.0.1", otherSentinel, "SENTINEL", "get-master-addr-by-name", "cache"));
        using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(
            $"127.0.0.1:{leaderSentinel},127.0.0.1:{otherSentinel},serviceName=cache,abortConnect=false,connectTimeout=1000,syncTimeout=1000");
        Assert.True(await redis.GetDatabase().StringSetAsync("before", "1"));

        using (Partition.Isolate(_hosts[0].Address))
        {
            await _agents["host-1"].DisposeAsync();
            _agents.Remove("host-1");
            await WaitForStatusAsync(s => s.State == ResourceState.Confirming, "the leader confirms host-1's loss", only: leaderUrl);

            leader.Process.Signal(Signals.SigKill);
            var killed = Stopwatch.StartNew();
            await Poll.UntilAsync(async () => await StatusAsync(other.Url) is not null, LeaderTtl * 3, () => $"{other.Url} leads\n{other.Process.Output}");
            var takeover = killed.Elapsed;
            output.WriteLine($"{other.Url} led {takeover.TotalSeconds:0.00} s after the leader was killed (TTL {LeaderTtl.TotalSeconds:0} s)");
            Assert.True(takeover < LeaderTtl + TimeSpan.FromSeconds(2), $"took over after {takeover.TotalSeconds:0.0} s\n{other.Process.Output}");

            var status = await WaitForStatusAsync(s => s.Primary != "host-1" && s.Primary.Length > 0, "the new leader fails host-1 over", TimeSpan.FromSeconds(40), only: other.Url);
            output.WriteLine($"failed over to {status.Primary} at term {status.Term}, {killed.Elapsed.TotalSeconds:0.0} s after the leader was killed");

            // The killed coordinator's endpoint is gone; the client finds the new primary through the other's, by itself.
            var promoted = _hosts.Single(h => h.Name == status.Primary);
            await Poll.UntilAsync(async () =>
            {
                try
                {
                    await redis.GetDatabase().StringSetAsync("after", "1");
                }
                catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
                {
                    return false;
                }

                return await Resp.CommandAsync(promoted.Address, promoted.Redis.Port, "GET", "after") == "1";
            }, TimeSpan.FromSeconds(30), () => $"StackExchange.Redis writes to {promoted.Name} through the surviving sentinel\n{redis.GetStatus()}");
            output.WriteLine($"StackExchange.Redis wrote to {promoted.Name} through the surviving coordinator's endpoint {killed.Elapsed.TotalSeconds:0.0} s after the leader was killed");
        }

        // The journal as etcd holds it (etcdctl): every line, those outside incidents too.
        var journal = await StoredJournalAsync();
        output.WriteLine(string.Join('\n', journal.Select(e => $"t{e.Term} {e.Kind}: {e.Text}")));
        Assert.Single(journal, e => e.Kind == "promote");
        // The new leader judged the standbys from their first reports before any suspicion: nothing was blocked.
        Assert.DoesNotContain(journal, e => e.Kind == "blocked");
        // The operators' history from the new leader has the promotion too.
        Assert.Single(await JournalAsync(other.Url), e => e.Kind == "promote");
        var leaders = journal.Where(e => e.Kind == "leader").ToList();
        Assert.Contains(leaders, e => e.Text.Contains(leaderUrl, StringComparison.Ordinal));
        Assert.Contains(leaders, e => e.Text.Contains(other.Url, StringComparison.Ordinal));
        // The new leader's term is above the old one's: whatever the dead leader had in flight is refused.
        Assert.True(leaders[^1].Term > leaders[0].Term);
    }

    /// <summary>
    /// Test 2: the leader is cut off from etcd (iptables DROP of its etcd source address; agents
    /// still reach it). It stops commanding by its own clock, before its lease could expire in etcd
    /// and let the other lead; the other leads after that, at a higher term, and the agents follow it.
    /// </summary>
    [Fact]
    public async Task The_leader_cut_off_from_etcd_stops_commanding_before_its_ttl_and_the_next_leads_at_a_higher_term()
    {
        var (leaderUrl, before) = await LeaderAsync();
        var index = _coordinators.FindIndex(c => c.Url == leaderUrl);
        var (leader, other) = (_coordinators[index], _coordinators[1 - index]);

        var cut = Stopwatch.StartNew();
        using (Partition.Isolate(Source(index)))
        {
            // "Let go of": the coordinator's tick (every 100 ms) saw leadership end; no command left after its deadline.
            await leader.Process.WaitForOutputAsync("Let go of", LeaderTtl * 2);
            var stopped = cut.Elapsed;
            await Poll.UntilAsync(async () => await StatusAsync(other.Url) is not null, LeaderTtl * 3, () => $"{other.Url} leads\n{other.Process.Output}");
            var took = cut.Elapsed;
            output.WriteLine($"the cut-off leader stopped {stopped.TotalSeconds:0.00} s after the cut; the other led {took.TotalSeconds:0.00} s after it (TTL {LeaderTtl.TotalSeconds:0} s)");
            // Two thirds of the TTL after its last renewal, so never later than the TTL after the cut.
            Assert.True(stopped < LeaderTtl, $"stopped only {stopped.TotalSeconds:0.0} s after the cut\n{leader.Process.Output}");
            Assert.True(took > stopped, "the other led before the cut-off leader had stopped");
            Assert.Null(await StatusAsync(leaderUrl));

            var status = await WaitForStatusAsync(s => s.Nodes.All(n => n.Connected) && s.State == ResourceState.Healthy, "every agent follows the new leader", only: other.Url);
            Assert.True(status.Term > before.Term, $"term {status.Term} after {before.Term}");
            Assert.Equal("host-1", status.Primary);
        }

        // The agents took the new leader's term: a command of the old one is refused from now on.
        Assert.All(_agents.Values, a => Assert.True(a.Terms.Highest > before.Term, $"an agent's highest term is {a.Terms.Highest}"));
    }

    /// <summary>
    /// Test 3: two of etcd's three members are killed. Nobody leads, so nothing is promoted for a
    /// host lost during the outage, while a kill -9 of the primary's redis-server is still restarted
    /// (fenced: no coordinator vouches for it). When etcd is back, the lost host is failed over once.
    /// </summary>
    [Fact]
    public async Task Without_an_etcd_quorum_nothing_is_promoted_restarts_go_on_and_the_lost_host_is_failed_over_once_etcd_returns()
    {
        var primary = _hosts[0];
        await Resp.CommandAsync(primary.Address, primary.Redis.Port, "CONFIG", "SET", "appendonly", "yes");
        await Resp.CommandAsync(primary.Address, primary.Redis.Port, "SAVE");
        await _agents["host-1"].WaitForAsync(s => s.Facts is { HasPersistence: true, DiskMayBeBehind: false }, TimeSpan.FromSeconds(10), "host-1's agent sees the AOF on");

        // What the next leader will go on: the record names the replicas in sync with host-1.
        string record = "";
        await Poll.UntilAsync(async () => (record = await EtcdctlAsync("get", _prefix + "/records/cache", "--print-value-only")).Contains("\"inSync\":[\"host-2\",\"host-3\"]", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), () => "the record names host-2 and host-3 in sync: " + record);
        await _etcd.KillAsync(1);
        await _etcd.KillAsync(2);
        await Poll.UntilAsync(async () => await StatusAsync(_coordinators[0].Url) is null && await StatusAsync(_coordinators[1].Url) is null,
            LeaderTtl * 2, () => "no coordinator leads without etcd's quorum\n" + string.Join("\n", _coordinators.Select(c => c.Process.Output)));

        // Issue 15: with no leader and no store to read, each Sentinel endpoint says so (a client then asks
        // another sentinel), never a guess at the primary; and it keeps answering.
        foreach (var port in _sentinelPorts)
        {
            Assert.StartsWith("-ERR this coordinator does not lead 'cache' and cannot read the store", await Resp.CommandAsync("127.0.0.1", port, "SENTINEL", "get-master-addr-by-name", "cache"), StringComparison.Ordinal);
            Assert.Equal("PONG", await Resp.CommandAsync("127.0.0.1", port, "PING"));
        }

        var pid = await Resp.ProcessIdAsync(primary.Address, primary.Redis.Port);
        Signals.Send(pid, Signals.SigKill);
        await Poll.UntilAsync(async () => await PidAsync(primary) is { } now && now != pid, TimeSpan.FromSeconds(15), () => "host-1's redis-server restarted without a coordinator");

        using (Partition.Isolate(primary.Address))
        {
            await _agents["host-1"].DisposeAsync();
            _agents.Remove("host-1");
            // Longer than the window: a coordinator would have failed over by now.
            var outage = Stopwatch.StartNew();
            while (outage.Elapsed < TimeSpan.FromSeconds(8))
            {
                foreach (var replica in _hosts.Skip(1))
                {
                    Assert.Equal("slave", (await InfoAsync(replica))["role"]);
                }

                await Task.Delay(200);
            }

            await _etcd.StartAsync(1);
            await _etcd.StartAsync(2);
            var status = await WaitForStatusAsync(s => s.Primary is "host-2" or "host-3", "host-1 failed over once etcd is back", TimeSpan.FromSeconds(40));
            output.WriteLine($"failed over to {status.Primary} at term {status.Term}");
        }

        var journal = await StoredJournalAsync();
        Assert.Single(journal, e => e.Kind == "promote");
    }

    private static async Task<int?> PidAsync(TestHost host)
    {
        try
        {
            return await Resp.ProcessIdAsync(host.Address, host.Redis.Port);
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or InvalidDataException)
        {
            return null;
        }
    }

    private static async Task<Dictionary<string, string>> InfoAsync(TestHost host)
    {
        await using var client = await RespClient.ConnectAsync(host.Address, host.Redis.Port);
        return await client.InfoAsync("replication");
    }

    /// <summary>The coordinator that leads (the one whose status answers), with that status.</summary>
    private async Task<(string Url, ResourceStatus Status)> LeaderAsync()
    {
        (string, ResourceStatus)? found = null;
        await Poll.UntilAsync(async () =>
        {
            foreach (var (url, _) in _coordinators)
            {
                if (await StatusAsync(url) is { } status)
                {
                    found = (url, status);
                    return true;
                }
            }

            return false;
        }, TimeSpan.FromSeconds(30), () => "a coordinator leads\n" + string.Join("\n", _coordinators.Select(c => c.Process.Output)));
        return found!.Value;
    }

    /// <summary>The status from <paramref name="url"/>; null when it does not lead (or does not answer).</summary>
    private async Task<ResourceStatus?> StatusAsync(string url)
    {
        using var channel = GrpcChannel.ForAddress(url);
        try
        {
            return await new Admin.AdminClient(channel).GetStatusAsync(new ResourceRequest { Resource = "cache" }, _headers, deadline: DateTime.UtcNow.AddSeconds(2));
        }
        catch (RpcException)
        {
            return null;
        }
    }

    private async Task<List<JournalEntry>> JournalAsync(string url)
    {
        using var channel = GrpcChannel.ForAddress(url);
        var incidents = await new Admin.AdminClient(channel).ListIncidentsAsync(new ResourceRequest { Resource = "cache" }, _headers);
        return [.. incidents.Incidents.SelectMany(i => i.Entries).OrderBy(e => e.At.ToDateTimeOffset())];
    }

    private sealed record Stored(long Term, string Kind, string Text);

    private async Task<string> EtcdctlAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("/usr/bin/etcdctl", ["--endpoints", _etcd.Endpoints, .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        var text = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        return text;
    }

    private async Task<List<Stored>> StoredJournalAsync()
    {
        var start = new ProcessStartInfo("/usr/bin/etcdctl", ["--endpoints", _etcd.Endpoints, "get", "--prefix", _prefix + "/resources/cache/journal/", "--print-value-only"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["ETCDCTL_API"] = "3";
        using var process = Process.Start(start)!;
        var text = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(process.ExitCode == 0, await process.StandardError.ReadToEndAsync());
        return [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            using var json = System.Text.Json.JsonDocument.Parse(line);
            return new Stored(json.RootElement.GetProperty("term").GetInt64(), json.RootElement.GetProperty("kind").GetString()!, json.RootElement.GetProperty("text").GetString()!);
        })];
    }

    private async Task<ResourceStatus> WaitForStatusAsync(Func<ResourceStatus, bool> condition, string what, TimeSpan? timeout = null, string? only = null)
    {
        ResourceStatus? last = null;
        await Poll.UntilAsync(async () =>
        {
            foreach (var (url, _) in _coordinators.Where(c => only is null || c.Url == only))
            {
                if (await StatusAsync(url) is { } status && condition(last = status))
                {
                    return true;
                }
            }

            return false;
        }, timeout ?? TimeSpan.FromSeconds(30), () => $"{what}\nLast status: {last}\n" + string.Join("\n---\n", _coordinators.Select(c => c.Url + "\n" + c.Process.Output)) + "\n" + _etcd.Output);
        return last!;
    }
}
