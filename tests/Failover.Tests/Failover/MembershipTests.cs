using RedisFailover.Coordination;
using RedisFailover.Store;
using NodeRole = RedisFailover.Protos.NodeRole;
using Verdict = RedisFailover.Protos.Verdict;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// Issue 17, membership and settings at run time, on explicit timestamps: which node may be added or
/// removed and what the machine then asks for; and which value is in force when the configuration
/// and the store disagree (the last change wins, and is never silent).
/// </summary>
public sealed class MembershipTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly FailoverPolicy Policy = new(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2), null, 1000, TimeSpan.FromSeconds(5));

    [Fact]
    public void A_node_added_is_persisted_announced_reconciled_and_counted_once_in_sync()
    {
        var machine = Resource();
        var effects = machine.AddNode(new NodeSpec("n4", "127.0.0.14:6379", "d"), "redis-failover nodes add by alice", T0, out var refusal);

        Assert.Null(refusal);
        Assert.True(machine.Knows("n4"));
        Assert.Equal("redis-failover nodes add by alice", machine.Origins.Nodes);
        Assert.Contains(effects, e => e is PersistTerm { Term: 1, Primary: "n1" });
        Assert.Contains(effects, e => e is MembershipChanged);
        Assert.Contains(effects, e => e is JournalLine { Kind: "nodes" } line && line.Text.StartsWith("n4 (127.0.0.14:6379, zone d) added by", StringComparison.Ordinal));

        // Its agent connects and reports an empty master: it is made a replica of n1.
        machine.Connected("n4", 0, T0);
        var reconciled = machine.Reported("n4", new NodeReport(NodeRole.Primary, 0, false, null, false, Verdict.Healthy, false, 0, ResourceSettings.None, []), T0.AddSeconds(1));
        Assert.Contains(reconciled, e => e is SendCommand { Node: "n4", Kind: CommandKind.ReplicateFrom, Argument: "127.0.0.11:6379" });
        Assert.Equal("n1", machine.Primary);

        // In sync: a standby like the others.
        machine.Reported("n4", Replica(5000), T0.AddSeconds(2));
        Assert.Contains("n4", machine.InSyncNodes);
    }

    [Theory]
    [InlineData("n2", "127.0.0.19:6379", "n2 is already a node of cache")]
    [InlineData("n9", "127.0.0.12:6379", "n2 already has the address 127.0.0.12:6379")]
    public void A_name_or_address_in_use_is_refused_and_changes_nothing(string name, string address, string why)
    {
        var machine = Resource();
        var effects = machine.AddNode(new NodeSpec(name, address, ""), "op", T0, out var refusal);
        Assert.Equal(why, refusal);
        Assert.Empty(effects);
        Assert.Equal(3, machine.Nodes.Count);
    }

    [Fact]
    public void Removing_refuses_the_primary_the_last_standby_in_sync_and_a_resource_of_two()
    {
        var machine = Resource(n3InSync: false);
        machine.RemoveNode("n1", force: false, "op", T0, out var refusal);
        Assert.Equal("n1 is the primary: switch over to another node first (redis-failover switchover --to NODE)", refusal);
        machine.RemoveNode("n2", force: false, "op", T0, out refusal);
        Assert.StartsWith("n2 is the only standby in sync with n1", refusal, StringComparison.Ordinal);
        machine.RemoveNode("n9", force: false, "op", T0, out refusal);
        Assert.Equal("there is no node 'n9'", refusal);
        Assert.Equal(3, machine.Nodes.Count);

        // n3 is not in sync: removable; then two are left, and neither may go.
        var effects = machine.RemoveNode("n3", force: false, "redis-failover nodes remove by bob", T0, out refusal);
        Assert.Null(refusal);
        Assert.False(machine.Knows("n3"));
        Assert.Contains(effects, e => e is MembershipChanged);
        Assert.Contains(effects, e => e is PersistTerm);
        machine.RemoveNode("n2", force: true, "op", T0, out refusal);
        Assert.Equal("cache would be left with one node: a resource needs a primary and a standby", refusal);

        // A report from a node removed meanwhile is ignored, never a crash.
        Assert.Empty(machine.Reported("n3", Replica(5000), T0.AddSeconds(1)));
        Assert.Empty(machine.Disconnected("n3", T0.AddSeconds(1)));
    }

    [Fact]
    public void The_last_standby_in_sync_goes_only_when_forced_and_the_resource_then_says_a_failover_is_impossible()
    {
        var machine = Resource(n3InSync: false);
        var effects = machine.RemoveNode("n2", force: true, "op", T0, out var refusal);
        Assert.Null(refusal);
        Assert.Contains(effects, e => e is JournalLine { Kind: "nodes" } line && line.Text.Contains("only standby in sync (forced)", StringComparison.Ordinal));
        Assert.Contains(machine.FailoverBlockers(), b => b.Code == "no_standby_in_sync");
    }

    [Fact]
    public void No_change_of_nodes_while_a_loss_is_being_confirmed()
    {
        var machine = Resource();
        var silent = new TargetSeen("n1", Verdict.HostUnreachable, RedisFailover.Protos.HostVerdict.Down, T0, RedisFailover.Protos.PortOutcome.ConnectTimeout);
        machine.Reported("n2", Replica(5000, silent), T0);
        Assert.Equal(ResourceState.Confirming, machine.State);
        machine.AddNode(new NodeSpec("n4", "127.0.0.14:6379", ""), "op", T0, out var refusal);
        Assert.Equal("a failover is being confirmed: change the nodes once it has ended", refusal);
        machine.RemoveNode("n3", force: false, "op", T0, out refusal);
        Assert.Equal("a failover is being confirmed: change the nodes once it has ended", refusal);
    }

    [Fact]
    public void A_switchover_to_a_replica_out_of_sync_is_refused_and_pauses_nothing()
    {
        var machine = Resource(n3InSync: false);
        var effects = machine.BeginSwitchover("n3", out var plan, out var refusal);
        Assert.Null(plan);
        Assert.Equal("n3 is not a connected replica in sync with n1", refusal);
        Assert.Null(machine.SwitchingTo);
        Assert.DoesNotContain(effects, e => e is SendCommand { Kind: CommandKind.Fence });

        // A node added and not yet synced is no target either; the one in sync is.
        machine.AddNode(new NodeSpec("n4", "127.0.0.14:6379", ""), "op", T0, out _);
        machine.BeginSwitchover("n4", out plan, out refusal);
        Assert.Equal("n4 is not a connected replica in sync with n1", refusal);
        machine.BeginSwitchover(null, out plan, out refusal);
        Assert.Null(refusal);
        Assert.Equal(("n2", "n1"), plan);
    }

    [Fact]
    public void A_fixed_quorum_is_never_left_without_enough_vantages()
    {
        var machine = new ResourceMachine("cache", Specs("n1", "n2", "n3"), Policy with { Quorum = 2 }, 1, "n1", ResourceSettings.None, paused: false);
        machine.RemoveNode("n3", force: false, "op", T0, out var refusal);
        Assert.Equal("Failover:Quorum 2 needs more vantages than the 1 that would be left: no loss could ever be confirmed", refusal);
    }

    // ---- configuration or store: the last change wins -----------------------------------------

    private static readonly ConfiguredValues Config = new([N("n1"), N("n2"), N("n3")], 300, "allkeys-lru");

    [Fact]
    public void A_first_start_takes_the_configuration()
    {
        var resolved = DesiredState.Resolve(ResourceRecord.Empty, Config, 0);
        Assert.Equal(["n1", "n2", "n3"], resolved.Nodes.Select(n => n.Name));
        Assert.Equal(new ResourceSettings(300, "allkeys-lru"), resolved.Settings);
        Assert.Equal(new ValueOrigins("configuration (Resources:0:Nodes)", "configuration (Resources:0:Timeout)", "configuration (Resources:0:MaxmemoryPolicy)"), resolved.Origins);
        Assert.Empty(resolved.Taken);
        Assert.Empty(resolved.Overridden);
    }

    [Fact]
    public void An_operators_later_change_stays_in_force_and_the_differing_configuration_is_named()
    {
        var record = ResourceRecord.Empty with
        {
            Term = 3,
            TimeoutSeconds = 60,
            MaxMemoryPolicy = "allkeys-lru",
            Nodes = [N("n2"), N("n3"), N("n4")],
            Origins = new ValueOrigins("redis-failover nodes remove by bob", "redis-failover timeout by alice", "configuration (Resources:0:MaxmemoryPolicy)"),
            Configured = Config,
        };
        var resolved = DesiredState.Resolve(record, Config, 0);

        Assert.Equal(["n2", "n3", "n4"], resolved.Nodes.Select(n => n.Name));
        Assert.Equal(60, resolved.Settings.TimeoutSeconds);
        Assert.Equal("redis-failover timeout by alice", resolved.Origins.Timeout);
        Assert.Equal("redis-failover nodes remove by bob", resolved.Origins.Nodes);
        Assert.Empty(resolved.Taken);
        Assert.Equal(2, resolved.Overridden.Count);
        Assert.Contains(resolved.Overridden, o => o.StartsWith("Resources:0:Nodes lists n1 ", StringComparison.Ordinal) && o.Contains("which are in force", StringComparison.Ordinal));
        Assert.Contains(resolved.Overridden, o => o.StartsWith("Resources:0:Timeout is 300 s, but timeout 60 s was set later (redis-failover timeout by alice)", StringComparison.Ordinal));
    }

    [Fact]
    public void A_configuration_changed_after_the_operators_change_is_the_later_word()
    {
        var record = ResourceRecord.Empty with
        {
            TimeoutSeconds = 60,
            Nodes = [N("n2"), N("n3"), N("n4")],
            Origins = new ValueOrigins("redis-failover nodes remove by bob", "redis-failover timeout by alice", null),
            Configured = Config,
        };
        var edited = Config with { TimeoutSeconds = 120, Nodes = [N("n1"), N("n2"), N("n5")] };
        var resolved = DesiredState.Resolve(record, edited, 2);

        Assert.Equal(["n1", "n2", "n5"], resolved.Nodes.Select(n => n.Name));
        Assert.Equal(120, resolved.Settings.TimeoutSeconds);
        Assert.Equal("configuration (Resources:2:Timeout)", resolved.Origins.Timeout);
        Assert.Equal("configuration (Resources:2:Nodes)", resolved.Origins.Nodes);
        Assert.Equal(2, resolved.Taken.Count);
        Assert.Empty(resolved.Overridden);
    }

    [Fact]
    public void A_record_from_before_origins_keeps_its_settings_as_before_and_says_so()
    {
        // Written by 0.2: no origins, no configuration; its timeout was set with the API.
        var record = new ResourceRecord(2, "n1", 60, null, false);
        var resolved = DesiredState.Resolve(record, Config, 0);

        Assert.Equal(new ResourceSettings(60, "allkeys-lru"), resolved.Settings);
        Assert.Equal("the store (set before origins were recorded)", resolved.Origins.Timeout);
        Assert.Equal(["n1", "n2", "n3"], resolved.Nodes.Select(n => n.Name));
        Assert.Single(resolved.Overridden);
    }

    private static NodeRecord N(string name) => new(name, $"127.0.0.{10 + int.Parse(name[1..], System.Globalization.CultureInfo.InvariantCulture)}:6379", "");

    private static NodeSpec[] Specs(params string[] names) => [.. names.Select(n => new NodeSpec(n, N(n).Address, ""))];

    /// <summary>n1 the primary at offset 5000, n2 in sync, n3 in sync unless told otherwise; every agent connected.</summary>
    private static ResourceMachine Resource(bool n3InSync = true)
    {
        var machine = new ResourceMachine("cache", Specs("n1", "n2", "n3"), Policy, term: 1, primary: "n1", ResourceSettings.None, paused: false);
        foreach (var node in new[] { "n1", "n2", "n3" })
        {
            machine.Connected(node, 1, T0);
        }

        machine.Reported("n1", new NodeReport(NodeRole.Primary, 5000, false, null, false, Verdict.Healthy, false, 1, ResourceSettings.None, []), T0);
        machine.Reported("n2", Replica(5000), T0);
        machine.Reported("n3", n3InSync ? Replica(4900) : Replica(100), T0);
        machine.Tick(T0);
        return machine;
    }

    private static NodeReport Replica(long offset, params TargetSeen[] seen) =>
        new(NodeRole.Replica, offset, true, "127.0.0.11:6379", false, Verdict.Healthy, false, 1, ResourceSettings.None, seen);
}
