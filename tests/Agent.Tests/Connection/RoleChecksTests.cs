using RedisAgent.Connection;
using static RedisAgent.Connection.RoleChecks;

namespace RedisAgent.Tests.Connection;

/// <summary>What a load balancer's check is told (GET /primary, GET /replica): only a primary that takes writes, only a replica that is linked.</summary>
public sealed class RoleChecksTests
{
    [Theory]
    [InlineData("master", null, false, true, "primary")]
    [InlineData("master", null, true, false, "not a primary that takes writes: fenced by its agent until the coordinator lifts it")]
    [InlineData("slave", "connected", false, false, "not a primary: ROLE says slave")]
    [InlineData("sentinel", null, false, false, "not a primary: ROLE says sentinel")]
    public void Primary(string role, string? link, bool fenced, bool yes, string text) =>
        Assert.Equal((yes, text), Decide(Wanted.Primary, new RoleReading(role, link, null), fenced));

    [Theory]
    [InlineData("slave", "connected", true, "replica")]
    [InlineData("slave", "connect", false, "replica, but its link to the primary is connect")]
    [InlineData("slave", "sync", false, "replica, but its link to the primary is sync")]
    [InlineData("master", null, false, "not a replica: ROLE says master")]
    public void Replica(string role, string? link, bool yes, string text) =>
        Assert.Equal((yes, text), Decide(Wanted.Replica, new RoleReading(role, link, null), fenced: false));

    [Fact]
    public void A_node_that_does_not_answer_is_neither()
    {
        var reading = new RoleReading(null, null, "No connection is active/available to service this operation");
        Assert.Equal((false, "unknown: the node did not answer ROLE (No connection is active/available to service this operation)"), Decide(Wanted.Primary, reading, fenced: false));
        Assert.False(Decide(Wanted.Replica, reading, fenced: false).Yes);
    }
}
