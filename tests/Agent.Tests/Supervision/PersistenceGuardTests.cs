using RedisAgent.Sampling;
using RedisAgent.Supervision;
using RedisFailover.Protos;
using RedisAgent.Node;

namespace RedisAgent.Tests.Supervision;

public sealed class PersistenceGuardTests
{
    private static readonly DateTimeOffset At = DateTimeOffset.UnixEpoch;

    [Fact]
    public void Check_no_facts_yet_allows() => Assert.True(PersistenceGuard.Check(null).IsAllowed);

    [Theory]
    [InlineData(NodeRole.Replica, 0, false, "")]
    [InlineData(NodeRole.Primary, 0, false, "")]
    [InlineData(NodeRole.Primary, 2, true, "", "everysec")]
    [InlineData(NodeRole.Primary, 2, true, "3600 1", "always")]
    [InlineData(NodeRole.Primary, 0, false, "3600 1 300 100", null)]
    [InlineData(NodeRole.Replica, 1, false, "3600 1 300 100", null)]
    public void Check_SafeToRestart_Allows(NodeRole role, int replicas, bool aof, string save, string? fsync = "everysec") =>
        Assert.True(PersistenceGuard.Check(new NodeFacts(role, replicas, aof, save, 1, At, fsync)).IsAllowed);

    [Theory]
    [InlineData(false, "3600 1 300 100", null, "RDB snapshots only")]
    [InlineData(false, "900 1", "everysec", "RDB snapshots only")]
    [InlineData(true, "", "no", "appendfsync no")]
    public void Check_primary_with_replicas_and_data_that_may_be_older_than_theirs_refuses_as_older_data(bool aof, string save, string? fsync, string why)
    {
        var verdict = PersistenceGuard.Check(new NodeFacts(NodeRole.Primary, 1, aof, save, 1, At, fsync));

        Assert.False(verdict.IsAllowed);
        Assert.Equal(GuardKind.OlderData, verdict.Kind);
        Assert.Contains(why, verdict.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void Check_primary_with_replicas_and_no_persistence_refuses(string save)
    {
        var verdict = PersistenceGuard.Check(new NodeFacts(NodeRole.Primary, 2, false, save, 1, At));

        Assert.False(verdict.IsAllowed);
        Assert.Equal(GuardKind.NoPersistence, verdict.Kind);
        Assert.Contains("2 replica(s)", verdict.Reason, StringComparison.Ordinal);
        Assert.Contains("come back empty", verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_persistence_unknown_allows_with_a_note()
    {
        var verdict = PersistenceGuard.Check(new NodeFacts(NodeRole.Primary, 1, false, null, 1, At));

        Assert.True(verdict.IsAllowed);
        Assert.Contains("CONFIG unavailable", verdict.Reason, StringComparison.Ordinal);
    }
}
