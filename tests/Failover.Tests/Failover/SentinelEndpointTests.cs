using System.Diagnostics;
using System.Globalization;
using Grpc.Net.Client;
using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;
using RedisAgent.Tests.HostProbing;
using RedisFailover.Protos;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// Issue 15: the coordinator speaks Redis Sentinel's discovery protocol. Real clients (redis-cli,
/// StackExchange.Redis with serviceName=) find the primary through it and follow a change of
/// primary, a subscriber gets one +switch-master per change, and the replies have the shapes a
/// real redis-sentinel, watching the same three hosts, gives.
/// </summary>
[Collection(LoopbackHostsCollection.Name)]
public sealed class SentinelEndpointTests(LoopbackHosts hosts, Xunit.Abstractions.ITestOutputHelper output) : ThreeHostResource(hosts)
{
    private readonly int _sentinelPort = LoopbackPorts.Free();

    private protected override Dictionary<string, string?> CoordinatorSettings() => new() { ["Sentinel:Urls"] = $"127.0.0.1:{_sentinelPort}" };

    [Fact]
    public async Task Real_clients_find_the_primary_and_follow_a_change_with_one_switch_master()
    {
        Assert.Equal($"{Hosts[0].Address}\n{Hosts[0].Redis.Port}", await RedisCliAsync("SENTINEL", "get-master-addr-by-name", "cache"));
        await using var subscriber = await RespClient.ConnectAsync("127.0.0.1", _sentinelPort);
        Assert.Equal("subscribe\n+switch-master\n1", await subscriber.CommandAsync("SUBSCRIBE", "+switch-master"));

        // StackExchange.Redis as an application configures it for Sentinel: the sentinels and the service name.
        using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_sentinelPort},serviceName=cache,abortConnect=false,connectTimeout=2000");
        var db = redis.GetDatabase();
        Assert.True(await db.StringSetAsync("before", "1"));
        Assert.Equal("1", await Resp.CommandAsync(Hosts[0].Address, Hosts[0].Redis.Port, "GET", "before"));

        // host-2 holds every command for 1.5 s (its agent's REPLICAOF NO ONE too): the new primary must not be
        // published before its promote is carried out, so not before the pause ends.
        await Resp.CommandAsync(Hosts[1].Address, Hosts[1].Redis.Port, "CLIENT", "PAUSE", "1500", "ALL");
        var paused = Stopwatch.StartNew();
        var promoted = await new Admin.AdminClient(Channel).PromoteAsync(new PromoteRequest { Resource = "cache", Node = "host-2" }, Coordinator.Headers);
        Assert.Equal("host-2", promoted.Primary);

        var message = await subscriber.ReadReplyAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(paused.Elapsed >= TimeSpan.FromSeconds(1.4), $"+switch-master {paused.Elapsed.TotalSeconds:0.000} s into host-2's 1.5 s pause: before its promote was carried out");

        Assert.Equal($"message\n+switch-master\ncache {Hosts[0].Address} {Hosts[0].Redis.Port} {Hosts[1].Address} {Hosts[1].Redis.Port}", message);
        Assert.Equal($"{Hosts[1].Address}\n{Hosts[1].Redis.Port}", await RedisCliAsync("SENTINEL", "get-master-addr-by-name", "cache"));

        // The client moves on its own: its writes land on host-2.
        var clock = Stopwatch.StartNew();
        await Poll.UntilAsync(async () =>
        {
            try
            {
                await db.StringSetAsync("after", clock.ElapsedMilliseconds.ToString(CultureInfo.InvariantCulture));
            }
            catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
            {
                return false;
            }

            return await Resp.CommandAsync(Hosts[1].Address, Hosts[1].Redis.Port, "GET", "after") != "(nil)";
        }, TimeSpan.FromSeconds(30), () => $"StackExchange.Redis writes to host-2\n{redis.GetStatus()}");
        output.WriteLine($"StackExchange.Redis wrote to host-2 {clock.Elapsed.TotalSeconds:0.00} s after the switch-master");

        // Exactly one message for the one change.
        var more = subscriber.ReadReplyAsync();
        Assert.NotSame(more, await Task.WhenAny(more, Task.Delay(1000)));
    }

    /// <summary>A host lost for real (iptables): a pattern subscriber sees Sentinel's events in Sentinel's order, and StackExchange.Redis moves to the new primary by itself.</summary>
    [Fact]
    public async Task Through_a_host_loss_a_subscriber_sees_sdown_odown_and_switch_master_and_the_client_follows()
    {
        await using var subscriber = await RespClient.ConnectAsync("127.0.0.1", _sentinelPort);
        Assert.Equal("psubscribe\n*\n1", await subscriber.CommandAsync("PSUBSCRIBE", "*"));
        using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{_sentinelPort},serviceName=cache,abortConnect=false,connectTimeout=1000,syncTimeout=1000");
        var db = redis.GetDatabase();
        Assert.True(await db.StringSetAsync("before", "1"));

        var events = new List<string>();
        var clock = Stopwatch.StartNew();
        string promotedAddress;
        using (Partition.Isolate(Hosts[0].Address))
        {
            await StopAgentAsync("host-1");
            while (true)
            {
                var message = (await subscriber.ReadReplyAsync().WaitAsync(TimeSpan.FromSeconds(30))).Split('\n');
                events.Add($"{message[2]} {message[3]}");
                if (message[2] == "+switch-master")
                {
                    promotedAddress = message[3].Split(' ')[3];
                    break;
                }
            }

            output.WriteLine($"+switch-master {clock.Elapsed.TotalSeconds:0.00} s after the cut (window 5 s)");
            var promoted = Hosts.Single(h => h.Address == promotedAddress);
            await Poll.UntilAsync(async () =>
            {
                try
                {
                    await db.StringSetAsync("after", "1");
                }
                catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
                {
                    // Still on the cut-off host-1: it will move.
                    return false;
                }

                return await Resp.CommandAsync(promoted.Address, promoted.Redis.Port, "GET", "after") == "1";
            }, TimeSpan.FromSeconds(30), () => $"StackExchange.Redis writes to {promoted.Name}\n{redis.GetStatus()}");
            output.WriteLine($"StackExchange.Redis wrote to {promoted.Name} {clock.Elapsed.TotalSeconds:0.00} s after the cut");
        }

        var kinds = events.Select(e => e.Split(' ')[0]).ToList();
        Assert.Equal(["+sdown", "+odown", "+failover-end", "+switch-master"], kinds);
        Assert.Equal($"+sdown master cache {Hosts[0].Address} {Hosts[0].Redis.Port}", events[0]);
        Assert.StartsWith($"+odown master cache {Hosts[0].Address} {Hosts[0].Redis.Port} #quorum ", events[1], StringComparison.Ordinal);
    }

    /// <summary>
    /// Two clients from other ecosystems, as their users configure them for Sentinel (tests/clients):
    /// ioredis (npm) and redis-py (Debian's python3-redis), writing side by side through a
    /// switchover (host-1 to host-2, by the admin API) and then the loss of host-2's host.
    /// </summary>
    [Fact]
    public async Task Ioredis_and_redis_py_follow_a_switchover_and_a_host_loss_through_the_endpoint()
    {
        await ClientScripts.InstallAsync();
        var port = _sentinelPort.ToString(CultureInfo.InvariantCulture);
        await using var ioredis = AgentProcess.StartBinary("/usr/bin/node", new Dictionary<string, string>(), ClientScripts.File("ioredis-writer.js"), port, "cache", "90", "io");
        await using var redisPy = AgentProcess.StartBinary("/usr/bin/python3", new Dictionary<string, string>(), ClientScripts.File("redis_py_writer.py"), port, "cache", "90", "py");
        var clients = new[] { ("ioredis", ioredis), ("redis-py", redisPy) };
        foreach (var (name, client) in clients)
        {
            await Poll.UntilAsync(() => Acknowledged(client).Count >= 10, TimeSpan.FromSeconds(30), () => $"{name} writes to host-1:\n{client.Output}");
        }

        // The switchover: once host-1 replicates from host-2 it refuses writes, so every write acknowledged after that is host-2's.
        await new Admin.AdminClient(Channel).PromoteAsync(new PromoteRequest { Resource = "cache", Node = "host-2" }, Coordinator.Headers);
        await Poll.UntilAsync(async () => (await Resp.CommandAsync(Hosts[0].Address, Hosts[0].Redis.Port, "ROLE")).StartsWith("slave", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), () => "host-1 replicates from host-2\n" + Coordinator.Describe());
        var switched = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await AssertFollowedAsync(clients, switched, Hosts[1], "the switchover");
        await Poll.UntilAsync(() => Status() is { State: ResourceState.Healthy, Primary: "host-2" } && Coordinator.Coordinator["cache"]!.Machine.InSyncNodes.Count() == 2,
            TimeSpan.FromSeconds(30), () => "host-1 and host-3 in sync with host-2\n" + Coordinator.Describe());

        TestHost promoted;
        long cut;
        using (Partition.Isolate(Hosts[1].Address))
        {
            // Taken once the cut is in force: no reply from host-2 gets through after it.
            cut = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            await StopAgentAsync("host-2");
            await Poll.UntilAsync(() => Status().Primary is "host-1" or "host-3", TimeSpan.FromSeconds(40), () => Coordinator.Describe());
            promoted = Hosts.Single(h => h.Name == Status().Primary);
            await AssertFollowedAsync(clients, cut, promoted, "the cut");
        }
    }

    /// <summary>Each client writes at least ten times after <paramref name="since"/> (unix ms), every one of them on <paramref name="primary"/>.</summary>
    private async Task AssertFollowedAsync((string Name, AgentProcess Process)[] clients, long since, TestHost primary, string what)
    {
        foreach (var (name, client) in clients)
        {
            await Poll.UntilAsync(() => Acknowledged(client).Count(a => a.At > since) >= 10, TimeSpan.FromSeconds(40),
                () => $"{name} writes after {what}:\n{string.Join('\n', client.Output.Split('\n').TakeLast(20))}\n{Coordinator.Describe()}");
            var after = Acknowledged(client).Where(a => a.At > since).ToList();
            output.WriteLine($"{name}: first write acknowledged {(after[0].At - since) / 1000.0:0.00} s after {what}, on {primary.Name}");
            foreach (var (key, _) in after.Take(10))
            {
                Assert.Equal("1", await Resp.CommandAsync(primary.Address, primary.Redis.Port, "EXISTS", key));
            }

            Assert.True(after[0].At - since < 30_000, $"{name} came back {(after[0].At - since) / 1000.0:0.0} s after {what}");
        }
    }

    /// <summary>The writes a client script acknowledged ("ack key unix-ms" lines).</summary>
    private static List<(string Key, long At)> Acknowledged(AgentProcess client) =>
        [.. client.Output.Split('\n').Select(l => l.Split(' ')).Where(p => p.Length == 3 && p[0] == "ack").Select(p => (p[1], long.Parse(p[2], CultureInfo.InvariantCulture)))];

    [Fact]
    public async Task Replies_have_the_shapes_of_a_real_redis_sentinel_watching_the_same_hosts()
    {
        using var state = new TempDirectory("sentinel");
        var port = LoopbackPorts.Free();
        File.WriteAllText(state.File("sentinel.conf"), $"""
            port {port}
            bind 127.0.0.1
            dir {state.Path}
            sentinel resolve-hostnames no
            sentinel monitor cache {Hosts[0].Address} {Hosts[0].Redis.Port} 2
            sentinel down-after-milliseconds cache 60000

            """);
        using var sentinel = Process.Start(new ProcessStartInfo("/usr/bin/redis-server", [state.File("sentinel.conf"), "--sentinel"]) { RedirectStandardOutput = true, UseShellExecute = false })!;
        try
        {
            await Poll.UntilAsync(async () => await Resp.PingsAsync("127.0.0.1", port) && (await Resp.CommandAsync("127.0.0.1", port, "SENTINEL", "replicas", "cache")).Contains("slave", StringComparison.Ordinal),
                TimeSpan.FromSeconds(30), () => "the real sentinel knows the replicas");
            var compared = new List<string>();
            async Task<(string Real, string Ours)> BothAsync(params string[] command)
            {
                compared.Add(string.Join(' ', command));
                return (await Resp.CommandAsync("127.0.0.1", port, command), await Resp.CommandAsync("127.0.0.1", _sentinelPort, command));
            }

            var (real, ours) = await BothAsync("SENTINEL", "get-master-addr-by-name", "cache");
            Assert.Equal(real, ours);
            (real, ours) = await BothAsync("SENTINEL", "get-master-addr-by-name", "nope");
            Assert.Equal(real, ours);
            (real, ours) = await BothAsync("SENTINEL", "master", "cache");
            Assert.Equal(Fields(real), Fields(ours));
            (real, ours) = await BothAsync("SENTINEL", "master", "nope");
            Assert.Equal(real, ours);
            (real, ours) = await BothAsync("SENTINEL", "replicas", "cache");
            Assert.Equal(Fields(real).Take(21), Fields(ours).Take(21));
            (real, ours) = await BothAsync("PING");
            Assert.Equal(real, ours);
            (real, ours) = await BothAsync("ROLE");
            Assert.Equal(real, ours);
            (real, ours) = await BothAsync("FLUSHALL");
            Assert.Equal(real.Split(',')[0], ours.Split(',')[0]);
            (real, ours) = await BothAsync("SENTINEL", "frobnicate");
            Assert.Equal(real, ours);
            (real, ours) = await BothAsync("SENTINEL", "reset", "nope*");
            Assert.Equal(("0", "0"), (real, ours));

            // SENTINEL RESET: the count of masters matched, and +reset-master to subscribers, from both alike.
            await using var realSubscriber = await RespClient.ConnectAsync("127.0.0.1", port);
            await using var ourSubscriber = await RespClient.ConnectAsync("127.0.0.1", _sentinelPort);
            Assert.Equal("subscribe\n+reset-master\n1", await realSubscriber.CommandAsync("SUBSCRIBE", "+reset-master"));
            Assert.Equal("subscribe\n+reset-master\n1", await ourSubscriber.CommandAsync("SUBSCRIBE", "+reset-master"));
            (real, ours) = await BothAsync("SENTINEL", "reset", "ca*");
            Assert.Equal(("1", "1"), (real, ours));
            Assert.Equal(
                await realSubscriber.ReadReplyAsync().WaitAsync(TimeSpan.FromSeconds(10)),
                await ourSubscriber.ReadReplyAsync().WaitAsync(TimeSpan.FromSeconds(10)));
            output.WriteLine("compared: " + string.Join("; ", compared));
        }
        finally
        {
            sentinel.Kill();
            await sentinel.WaitForExitAsync();
        }
    }

    /// <summary>The field names of a reply of field, value pairs (the test client joins an array's items with newlines; nested arrays flatten).</summary>
    private static List<string> Fields(string reply)
    {
        var items = reply.Split('\n');
        return [.. items.Where((_, i) => i % 2 == 0)];
    }

    private async Task<string> RedisCliAsync(params string[] command)
    {
        var start = new ProcessStartInfo("redis-cli", ["-h", "127.0.0.1", "-p", _sentinelPort.ToString(CultureInfo.InvariantCulture), .. command]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(start)!;
        var text = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        return text.Trim();
    }
}
