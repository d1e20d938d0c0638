using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using RedisAgent.Testing;
using RedisAgent.Tests.HostProbing;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// Issue 17, the operators' verbs: the redis-failover binary (the published one when CI sets it)
/// against a coordinator leading a real resource of three hosts. Each verb does what it says on the
/// nodes themselves, prints what Heroku's CLI prints, answers --json, and refuses a bad value
/// before anything is sent, naming it.
/// </summary>
[Collection(LoopbackHostsCollection.Name)]
public sealed class AdminCliTests(LoopbackHosts hosts) : ThreeHostResource(hosts)
{
    [Fact]
    public async Task Info_and_status_say_what_is_in_force_and_whether_a_failover_could_happen()
    {
        await Poll.UntilAsync(() => Status().Nodes.All(n => n.RedisVersion.Length > 0), TimeSpan.FromSeconds(10), () => "every agent reports its version");
        var primary = Hosts[0];
        var (code, info, error) = await CliAsync("info", "-r", "cache");
        Assert.True(code == 0, error);
        Assert.StartsWith($"=== cache (redis://{primary.Address}:{primary.Redis.Port})\n", info, StringComparison.Ordinal);
        Assert.Contains("Status              Healthy\n", info, StringComparison.Ordinal);
        Assert.Contains("Automatic failover  on\n", info, StringComparison.Ordinal);
        Assert.Contains("Failover possible   yes\n", info, StringComparison.Ordinal);
        Assert.Matches(@"Version             7\.\d+\.\d+\n", info);
        Assert.Contains("Persistence:        ", info, StringComparison.Ordinal);
        Assert.Contains("host-2", info, StringComparison.Ordinal);
        Assert.Contains(", in sync\n", info, StringComparison.Ordinal);

        (code, var json, error) = await CliAsync("info", "-r", "cache", "--json");
        Assert.True(code == 0, error);
        using (var document = JsonDocument.Parse(json))
        {
            var root = document.RootElement;
            Assert.Equal("Healthy", root.GetProperty("state").GetString());
            Assert.Equal("host-1", root.GetProperty("primary").GetString());
            Assert.Equal(0, root.GetProperty("failover_blockers").GetArrayLength());
            var nodes = root.GetProperty("nodes").EnumerateArray().ToDictionary(n => n.GetProperty("node").GetString()!);
            Assert.True(nodes["host-2"].GetProperty("in_sync").GetBoolean());
            Assert.False(nodes["host-1"].GetProperty("in_sync").GetBoolean());
            Assert.StartsWith("7.", nodes["host-1"].GetProperty("redis_version").GetString(), StringComparison.Ordinal);
        }

        // A vantage agent gone: still Healthy, but a host loss could no longer be confirmed, and status says so.
        await StopAgentAsync("host-3");
        await Poll.UntilAsync(() => Status().FailoverBlockers.Count > 0, TimeSpan.FromSeconds(20), () => Coordinator.Describe());
        (code, var status, error) = await CliAsync("status", "-r", "cache");
        Assert.True(code == 0, error);
        Assert.Contains("failover impossible now: only 1 of 2 vantage agents are connected: confirming host-1's loss needs 2 (host-3 not connected)", status, StringComparison.Ordinal);
        (_, info, _) = await CliAsync("info", "-r", "cache");
        Assert.Contains("Failover possible   NO: only 1 of 2 vantage agents are connected", info, StringComparison.Ordinal);

        // A switchover to a node that is not a connected replica in sync is refused before anything is paused.
        (code, _, error) = await CliAsync("switchover", "-r", "cache", "--to", "host-3");
        Assert.True(code == 1, $"exit {code}: {error}");
        Assert.Contains("host-3 is not a connected replica in sync with host-1", error, StringComparison.Ordinal);
        Assert.Equal("OK", await Resp.CommandAsync(Hosts[0].Address, Hosts[0].Redis.Port, "SET", "not-paused", "1").WaitAsync(TimeSpan.FromSeconds(2)));
        Assert.Equal("host-1", Status().Primary);
    }

    [Fact]
    public async Task Timeout_and_maxmemory_reach_every_node_and_bad_values_are_refused_before_anything_is_sent()
    {
        var (code, text, error) = await CliAsync("timeout", "-r", "cache", "--seconds", "60");
        Assert.True(code == 0, error);
        Assert.Equal("Timeout for cache set to 60 seconds.\nConnections to the redis instance will be stopped after idling for 60 seconds.\n", text);
        (code, text, error) = await CliAsync("maxmemory", "-r", "cache", "--policy", "volatile-lru");
        Assert.True(code == 0, error);
        Assert.Equal("Maxmemory policy for cache set to volatile-lru.\nvolatile-lru evict keys trying to remove the less recently used keys first, but only those that have an expiry set.\n", text);
        foreach (var host in Hosts)
        {
            await Poll.UntilAsync(async () => await ConfigAsync(host, "timeout") == "60" && await ConfigAsync(host, "maxmemory-policy") == "volatile-lru",
                TimeSpan.FromSeconds(15), () => $"{host.Name} has the settings\n{Coordinator.Describe()}");
        }

        foreach (var (arguments, expected) in new (string[], string)[]
        {
            (["timeout", "-r", "cache", "--seconds", "-1"], "timeout needs --seconds N, a whole number of seconds from 0 (never) to 2147483647 (got '-1')"),
            (["timeout", "-r", "cache", "--seconds", "99999999999"], "(got '99999999999')"),
            (["timeout", "-r", "cache"], "timeout needs --seconds N"),
            (["maxmemory", "-r", "cache", "--policy", "delete-everything"], "maxmemory needs --policy, one of noeviction, allkeys-lru"),
            (["promote", "-r", "cache"], "promote needs the node"),
            (["wait", "-r", "cache", "--timeout", "0"], "wait --timeout must be 1 to 86400 seconds (got '0')"),
            (["wait", "-r", "cache", "--node", "no such/node"], "wait --node must be a node's name (got 'no such/node')"),
            (["nodes", "add", "-r", "cache", "--address", "127.0.0.14:6379"], "nodes add needs the node's name"),
            (["nodes", "add", "host-4", "-r", "cache", "--address", "127.0.0.14"], "nodes add needs --address HOST:PORT, the port from 1 to 65535 (got '127.0.0.14')"),
            (["nodes", "add", "host-4", "-r", "cache", "--address", "127.0.0.14:70000"], "(got '127.0.0.14:70000')"),
            (["nodes", "remove", "-r", "cache"], "nodes remove needs the node's name"),
            (["nodes", "rename", "host-1", "-r", "cache"], "nodes takes add or remove, or nothing to list them (got 'rename')"),
        })
        {
            (code, _, error) = await CliAsync(arguments);
            Assert.True(code == 64, $"{string.Join(' ', arguments)}: exit {code}: {error}");
            Assert.Contains(expected, error, StringComparison.Ordinal);
        }

        // Nothing of it reached the nodes, or the resource.
        Assert.Equal(3, Status().Nodes.Count);
        Assert.Equal("60", await ConfigAsync(Hosts[0], "timeout"));
        Assert.Equal("volatile-lru", await ConfigAsync(Hosts[0], "maxmemory-policy"));

        // info says where each value in force came from: this CLI, by whom, when.
        (code, text, error) = await CliAsync("info", "-r", "cache");
        Assert.True(code == 0, error);
        Assert.Matches(@"\nTimeout             60 \(from redis-failover timeout by [^\n]+ at \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\)\n", text);
        Assert.Matches(@"\nMaxmemory           volatile-lru \(from redis-failover maxmemory by ", text);
        Assert.Contains("Nodes (from configuration (Resources:0:Nodes))\n", text, StringComparison.Ordinal);

        // Refused by the coordinator, named: the primary cannot leave, an unknown node cannot either.
        (code, _, error) = await CliAsync("nodes", "remove", "host-1", "-r", "cache");
        Assert.True(code == 1, error);
        Assert.Contains("host-1 is the primary: switch over to another node first", error, StringComparison.Ordinal);
        (code, _, error) = await CliAsync("nodes", "remove", "host-9", "-r", "cache");
        Assert.True(code == 1, error);
        Assert.Contains("resource 'cache' has no node 'host-9'", error, StringComparison.Ordinal);
        (code, text, error) = await CliAsync("nodes", "-r", "cache");
        Assert.True(code == 0, error);
        Assert.StartsWith("=== cache nodes (from configuration (Resources:0:Nodes))\n", text, StringComparison.Ordinal);

        (code, var json, error) = await CliAsync("timeout", "-r", "cache", "--seconds", "0", "--json");
        Assert.True(code == 0, error);
        using var document = JsonDocument.Parse(json);
        Assert.Equal(0, document.RootElement.GetProperty("settings").GetProperty("timeout_seconds").GetInt64());
        Assert.StartsWith("redis-failover timeout by ", document.RootElement.GetProperty("origins").GetProperty("timeout_seconds").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Promote_asks_for_the_resource_name_pause_stops_automatic_failover_and_wait_returns_once_healthy()
    {
        // Not confirmed: nothing happens.
        var (code, _, error) = await CliWithInputAsync("cahce\n", "promote", "host-2", "-r", "cache");
        Assert.True(code == 1, error);
        Assert.Contains("To proceed, type cache or re-run this command with --confirm cache", error, StringComparison.Ordinal);
        Assert.Contains("confirmation did not match cache: nothing was promoted", error, StringComparison.Ordinal);
        (code, _, error) = await CliAsync("promote", "host-9", "-r", "cache", "--confirm", "cache");
        Assert.True(code == 1, error);
        Assert.Contains("host-9", error, StringComparison.Ordinal);
        Assert.Equal("host-1", Status().Primary);

        // Typed at the prompt, as a person would.
        (code, var promoted, error) = await CliWithInputAsync("cache\n", "promote", "host-2", "-r", "cache");
        Assert.True(code == 0, error);
        Assert.Equal("Promoting host-2 to primary of cache... done, term 2.\n", promoted);
        Assert.Equal("host-2", Status().Primary);

        (code, var waited, error) = await CliAsync("wait", "-r", "cache", "--timeout", "60");
        Assert.True(code == 0, error);
        Assert.Equal("Waiting for cache... done\n", waited);
        Assert.Equal(RedisFailover.Protos.ResourceState.Healthy, Status().State);

        (code, var paused, error) = await CliAsync("pause", "-r", "cache");
        Assert.True(code == 0, error);
        Assert.Equal("Automatic failover of cache paused: a lost primary stays down until redis-failover resume -r cache.\n", paused);
        Assert.True(Status().Paused);
        Assert.Contains("automatic failover is paused (redis-failover resume)", Status().FailoverBlockers);
        (code, var resumed, error) = await CliAsync("resume", "-r", "cache", "--json");
        Assert.True(code == 0, error);
        using var document = JsonDocument.Parse(resumed);
        Assert.False(document.RootElement.GetProperty("paused").GetBoolean());
    }

    private static async Task<string> ConfigAsync(RedisAgent.Testing.Hosts.TestHost host, string key) =>
        (await Resp.CommandAsync(host.Address, host.Redis.Port, "CONFIG", "GET", key)).Split('\n')[1];
}
