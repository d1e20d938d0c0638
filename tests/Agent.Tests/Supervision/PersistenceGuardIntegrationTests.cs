using System.Globalization;
using RedisAgent.Probing;
using RedisAgent.Supervision;
using RedisAgent.Testing;
using RedisAgent.Node;

namespace RedisAgent.Tests.Supervision;

/// <summary>A primary with a replica: restarted only when it would come back with its data.</summary>
public sealed class PersistenceGuardIntegrationTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Primary_with_replica_and_no_persistence_is_not_restarted_and_asks_for_a_failover()
    {
        var (agent, replica) = await PrimaryWithReplicaAsync("--save", "", "--appendonly", "no");
        await using (agent)
        await using (replica)
        {
            Signals.Send(agent.ExecProcessId!.Value, Signals.SigKill);

            await agent.WaitForAsync(s => s.Phase == SupervisorPhase.Refused, Deadline, "restart refused");
            var snapshot = agent.Snapshot;
            Assert.Equal(0, snapshot.Restarts);
            Assert.Equal(1, snapshot.RestartsRefused);
            Assert.Contains("no persistence", snapshot.NeedsFailover, StringComparison.Ordinal);
            Assert.Null(agent.ExecProcessId);
            Assert.Contains(agent.Logs.Entries, e => e.EventId == 1106);
        }
    }

    [Theory]
    [InlineData("RDB snapshots only", "--save", "900 1", "--appendonly", "no")]
    [InlineData("appendfsync no", "--save", "", "--appendonly", "yes", "--appendfsync", "no")]
    public async Task Primary_with_replica_and_data_that_may_be_older_than_its_replicas_is_not_restarted_and_asks_for_a_failover(string why, params string[] persistence)
    {
        var (agent, replica) = await PrimaryWithReplicaAsync(persistence);
        await using (agent)
        await using (replica)
        {
            await agent.WaitForAsync(s => s.Facts?.DiskMayBeBehind == true, Deadline, "the agent knows its persistence settings");
            Signals.Send(agent.ExecProcessId!.Value, Signals.SigKill);

            await agent.WaitForAsync(s => s.Phase == SupervisorPhase.Refused, Deadline, "restart refused");
            Assert.Equal(0, agent.Snapshot.Restarts);
            Assert.Equal(GuardKind.OlderData, agent.Snapshot.Refusal);
            Assert.Contains(why, agent.Snapshot.NeedsFailover, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Primary_with_replica_and_append_only_is_restarted()
    {
        var (agent, replica) = await PrimaryWithReplicaAsync("--save", "", "--appendonly", "yes");
        await using (agent)
        await using (replica)
        {
            await agent.WaitForAsync(s => s.Facts?.DiskMayBeBehind == false, Deadline, "the agent knows its persistence settings");
            Signals.Send(agent.ExecProcessId!.Value, Signals.SigKill);

            await agent.WaitForAsync(s => s.Restarts == 1 && s.Phase == SupervisorPhase.Watching, Deadline, "restarted");
            Assert.Equal(0, agent.Snapshot.RestartsRefused);
        }
    }

    private static async Task<(AgentUnderTest Agent, RedisServer Replica)> PrimaryWithReplicaAsync(params string[] persistence)
    {
        var settings = new Dictionary<string, string?>();
        for (var i = 0; i < persistence.Length; i++)
        {
            settings[$"Exec:Arguments:{i}"] = persistence[i];
        }

        var agent = await AgentUnderTest.StartOwningRedisAsync(settings);
        RedisServer? replica = null;
        try
        {
            replica = await RedisServer.StartAsync(new RedisServerOptions
            {
                Arguments = ["--replicaof", "127.0.0.1", agent.Port.ToString(CultureInfo.InvariantCulture)],
            });
            await agent.WaitForAsync(s => s.Facts is { IsPrimary: true, ConnectedReplicas: 1 }, Deadline, "the agent knows its replica");
            return (agent, replica);
        }
        catch
        {
            await agent.DisposeAsync();
            if (replica is not null)
            {
                await replica.DisposeAsync();
            }

            throw;
        }
    }
}
