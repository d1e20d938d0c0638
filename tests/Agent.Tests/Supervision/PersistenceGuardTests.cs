using RedisAgent.Sampling;
using RedisAgent.Supervision;
using RedisFailover.Protos;

namespace RedisAgent.Tests.Supervision;

public sealed class PersistenceGuardTests
{
    private static readonly DateTimeOffset At = DateTimeOffset.UnixEpoch;

    [Fact]
    public void Check_NoFactsYet_Allows() => Assert.True(PersistenceGuard.Check(null).IsAllowed);

    [Theory]
    [InlineData(NodeRole.Replica, 0, false, "")]
    [InlineData(NodeRole.Primary, 0, false, "")]
    [InlineData(NodeRole.Primary, 2, true, "")]
    [InlineData(NodeRole.Primary, 2, false, "3600 1 300 100")]
    public void Check_SafeToRestart_Allows(NodeRole role, int replicas, bool aof, string save) =>
        Assert.True(PersistenceGuard.Check(new NodeFacts(role, replicas, aof, save, 1, At)).IsAllowed);

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void Check_PrimaryWithReplicasAndNoPersistence_Refuses(string save)
    {
        var verdict = PersistenceGuard.Check(new NodeFacts(NodeRole.Primary, 2, false, save, 1, At));

        Assert.False(verdict.IsAllowed);
        Assert.Contains("2 replica(s)", verdict.Reason, StringComparison.Ordinal);
        Assert.Contains("come back empty", verdict.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_PersistenceUnknown_AllowsWithANote()
    {
        var verdict = PersistenceGuard.Check(new NodeFacts(NodeRole.Primary, 1, false, null, 1, At));

        Assert.True(verdict.IsAllowed);
        Assert.Contains("CONFIG unavailable", verdict.Reason, StringComparison.Ordinal);
    }
}
