using System.Globalization;
using Grpc.Core;
using RedisAgent.Testing;
using RedisAgent.Tests.HostProbing;
using RedisFailover.Protos;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// Issue 17, membership at run time and the plan upgrade it makes possible (docs/plan-upgrade.md):
/// <c>nodes add</c> a bigger node, <c>wait --node</c> for it to sync, <c>switchover --to</c> it,
/// <c>nodes remove</c> the old primary; all with the CLI binary against real hosts, under a writer
/// that follows the published primary. Then a restart of the coordinator with its configuration
/// unchanged keeps the nodes the operator set, and says the configuration differs.
/// </summary>
[Collection(LoopbackHostsCollection.Name)]
public sealed class PlanUpgradeTests(LoopbackHosts hosts, Xunit.Abstractions.ITestOutputHelper output) : ThreeHostResource(hosts)
{
    [Fact]
    public async Task A_bigger_node_is_added_synced_switched_to_and_the_old_primary_removed_losing_no_write()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        await Poll.UntilAsync(() => File.Exists(Coordinator.UrlFile), TimeSpan.FromSeconds(10), () => "the primary published");
        var writer = new FollowingWriter(async () => await PublishedPrimaryAsync(), TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(2)).Start(stop.Token);
        await Poll.UntilAsync(() => writer.Count > 200, TimeSpan.FromSeconds(10), () => $"the writer writes: {writer.LastError}");

        // The bigger node: its own host, an empty redis-server that replicates nothing yet.
        var bigger = await Machines.StartAsync(4, alsoLoopback: true);
        Hosts.Add(bigger);
        var address = $"{bigger.Address}:{bigger.Redis.Port}";

        // 1. nodes add.
        var (code, text, error) = await CliAsync("nodes", "add", "host-4", "-r", "cache", "--address", address, "--zone", "zone-4");
        Assert.True(code == 0, $"nodes add: exit {code}: {error}");
        Assert.Equal($"Adding host-4 ({address}) to cache... done. It becomes a replica of host-1 once its agent connects; redis-failover wait -r cache --node host-4 returns once it is in sync.\n", text);
        Agents["host-4"] = await AgentUnderTest.StartAsync(Coordinator.AgentSettings(bigger, Hosts, Machines.Keys.ClientKey, "cache"));

        // 2. wait for it to sync: the coordinator made it a replica of host-1.
        (code, text, error) = await CliAsync("wait", "-r", "cache", "--node", "host-4", "--timeout", "60");
        Assert.True(code == 0, $"wait --node host-4: exit {code}: {error}\n{Coordinator.Describe()}");
        var replication = await Resp.CommandAsync(bigger.Address, bigger.Redis.Port, "INFO", "replication");
        Assert.Contains("role:slave", replication, StringComparison.Ordinal);
        Assert.Contains($"master_host:{Hosts[0].Address}", replication, StringComparison.Ordinal);

        // The agents configured with three nodes now watch the fourth, named by the coordinator.
        foreach (var vantage in new[] { "host-2", "host-3" })
        {
            await Poll.UntilAsync(() => Observes(vantage, "host-4", Verdict.Healthy), TimeSpan.FromSeconds(15), () => $"{vantage} watches host-4\n{Agents[vantage].Logs.Text}");
            Assert.Contains("Watching host-4 at " + address + ", which the coordinator names as a node of the resource", Agents[vantage].Logs.Text, StringComparison.Ordinal);
        }

        // 3. switchover to it, losing nothing.
        (code, text, error) = await CliAsync("switchover", "-r", "cache", "--to", "host-4");
        Assert.True(code == 0, $"switchover: exit {code}: {error}\n{Coordinator.Describe()}");
        Assert.Equal("host-4", Status().Primary);
        var count = writer.Count;
        await Poll.UntilAsync(() => writer.Count > count + 100, TimeSpan.FromSeconds(15), () => $"the writer follows to host-4: {writer.LastError}");

        // 4. nodes remove the old primary: refused while it is the primary, done once it is not.
        (code, _, error) = await CliAsync("nodes", "remove", "host-4", "-r", "cache");
        Assert.True(code == 1, $"removing the primary: exit {code}: {error}");
        Assert.Contains("host-4 is the primary: switch over to another node first", error, StringComparison.Ordinal);
        (code, text, error) = await CliAsync("nodes", "remove", "host-1", "-r", "cache");
        Assert.True(code == 0, $"nodes remove host-1: exit {code}: {error}\n{Coordinator.Describe()}");
        Assert.Equal("Removing host-1 from cache... done. It is no longer watched or promoted; its Redis is left running, to be stopped by you.\n", text);
        var status = Status();
        Assert.Equal(["host-2", "host-3", "host-4"], status.Nodes.Select(n => n.Node).Order(StringComparer.Ordinal));
        Assert.StartsWith("redis-failover nodes remove by ", status.NodesOrigin, StringComparison.Ordinal);
        foreach (var vantage in new[] { "host-2", "host-3" })
        {
            await Poll.UntilAsync(() => !Observes(vantage, "host-1", null), TimeSpan.FromSeconds(15), () => $"{vantage} no longer reports host-1\n{Agents[vantage].Logs.Text}");
        }

        // host-1's agent is refused from now on; the resource stays Healthy and could fail over.
        await Poll.UntilAsync(() => Status() is { State: ResourceState.Healthy, FailoverBlockers.Count: 0 } && Coordinator.Coordinator["cache"]!.Machine.InSyncNodes.Count(n => n != "host-4") == 2,
            TimeSpan.FromSeconds(30), () => Coordinator.Describe());
        (code, text, error) = await CliAsync("info", "-r", "cache");
        Assert.True(code == 0, error);
        Assert.Contains("Nodes (from redis-failover nodes remove by ", text, StringComparison.Ordinal);
        Assert.DoesNotContain("host-1", text[text.IndexOf("Nodes (", StringComparison.Ordinal)..].Split('\n', 2)[1], StringComparison.Ordinal);

        await stop.CancelAsync();
        await writer.Task;
        var primary = await PublishedPrimaryAsync();
        Assert.Equal((bigger.Address, bigger.Redis.Port), primary);
        var missing = await writer.MissingOnAsync(primary.Host, primary.Port);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{writer.Count} writes acknowledged through the plan upgrade, {missing} missing"));
        Assert.Equal(0, missing);

        var journal = Coordinator.Store.Journal("cache").ToList();
        Assert.Contains(journal, r => r.Kind == "nodes" && r.Text.StartsWith("host-4 (" + address + ", zone zone-4) added by redis-failover nodes add by ", StringComparison.Ordinal));
        Assert.Contains(journal, r => r.Kind == "nodes" && r.Text.StartsWith("host-1 (", StringComparison.Ordinal) && r.Text.Contains("removed by", StringComparison.Ordinal));

        // A restart with the configuration still naming host-1..3: the operator's later change stays in force, and the difference is said.
        await Coordinator.RestartAsync();
        await Poll.UntilAsync(() => Status() is { State: ResourceState.Healthy, Primary: "host-4" } s && s.Nodes.Count == 3 && s.Nodes.All(n => n.Connected),
            TimeSpan.FromSeconds(30), () => Coordinator.Describe());
        Assert.Equal(["host-2", "host-3", "host-4"], Status().Nodes.Select(n => n.Node).Order(StringComparer.Ordinal));
        Assert.Contains("Resources:0:Nodes lists host-1 ", Coordinator.Logs.Text, StringComparison.Ordinal);
        Assert.Contains("which are in force", Coordinator.Logs.Text, StringComparison.Ordinal);

        // Bad requests are refused, named, and change nothing.
        var admin = new Admin.AdminClient(Channel);
        var duplicate = await Assert.ThrowsAsync<RpcException>(async () => await admin.AddNodeAsync(new AddNodeRequest { Resource = "cache", Node = "host-5", Address = address }, Coordinator.Headers));
        Assert.Contains("host-4 already has the address " + address, duplicate.Status.Detail, StringComparison.Ordinal);
        var garbage = await Assert.ThrowsAsync<RpcException>(async () => await admin.AddNodeAsync(new AddNodeRequest { Resource = "cache", Node = "x\ny", Address = address }, Coordinator.Headers));
        Assert.Equal(StatusCode.InvalidArgument, garbage.StatusCode);
        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await admin.RemoveNodeAsync(new RemoveNodeRequest { Resource = "cache", Node = "host-9" }, Coordinator.Headers));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(3, Status().Nodes.Count);
    }

    /// <summary>Whether <paramref name="vantage"/>'s last report to the coordinator has an observation of <paramref name="target"/> (with <paramref name="verdict"/>, when given).</summary>
    private bool Observes(string vantage, string target, Verdict? verdict) =>
        Coordinator.Coordinator["cache"]!.Read(m => m.Nodes.FirstOrDefault(n => n.Spec.Name == vantage)?.Report?.Observations
            .Any(o => o.Target == target && (verdict is null || o.Verdict == verdict)) ?? false);
}
