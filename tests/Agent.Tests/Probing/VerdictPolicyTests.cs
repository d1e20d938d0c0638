using RedisAgent.Probing;
using RedisAgent.Node;

namespace RedisAgent.Tests.Probing;

public sealed class VerdictPolicyTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 26, 8, 0, 0, TimeSpan.Zero);
    private readonly VerdictOptions _options = new() { FailuresToDown = 3, SuccessesToUp = 2, HangThreshold = TimeSpan.FromSeconds(2) };
    private TimeSpan _elapsed;

    [Fact]
    public void Observe_two_pongs_is_healthy()
    {
        var policy = new VerdictPolicy(_options);

        Assert.Null(policy.Observe(Next(PortProbeOutcome.Pong)));
        var change = policy.Observe(Next(PortProbeOutcome.Pong));

        Assert.Equal(new[] { NodeVerdict.Unknown, NodeVerdict.Healthy }, new[] { change!.From, change.To });
        Assert.Equal(2, change.Observations);
    }

    [Fact]
    public void Observe_one_refused_among_pongs_changes_nothing()
    {
        var policy = Healthy();

        Assert.Null(policy.Observe(Next(PortProbeOutcome.Refused)));
        Assert.False(policy.IsSettled);
        Assert.Null(policy.Observe(Next(PortProbeOutcome.Pong)));
        Assert.Null(policy.Observe(Next(PortProbeOutcome.Refused)));
        Assert.Null(policy.Observe(Next(PortProbeOutcome.Refused)));
        Assert.Equal(NodeVerdict.Healthy, policy.Current);
    }

    [Theory]
    [InlineData("Refused")]
    [InlineData("Reset")]
    [InlineData("ConnectTimeout")]
    [InlineData("Failed")]
    public void Observe_ThreeFailuresInARow_IsProcessDown(string outcome)
    {
        var failure = Enum.Parse<PortProbeOutcome>(outcome);
        var policy = Healthy();

        Assert.Null(policy.Observe(Next(failure)));
        Assert.Null(policy.Observe(Next(failure)));
        var change = policy.Observe(Next(failure));

        Assert.Equal(NodeVerdict.ProcessDown, change?.To);
        Assert.Equal(3, change!.Observations);
        Assert.True(policy.IsSettled);
    }

    [Fact]
    public void Observe_mixed_failures_count_together()
    {
        var policy = Healthy();

        policy.Observe(Next(PortProbeOutcome.Reset));
        policy.Observe(Next(PortProbeOutcome.Hung));
        var change = policy.Observe(Next(PortProbeOutcome.Refused));

        Assert.Equal(NodeVerdict.ProcessDown, change?.To);
    }

    [Fact]
    public void Observe_hung_shorter_than_threshold_is_not_hung()
    {
        var policy = Healthy();

        // Five hung probes 300 ms apart: 1.2 s of silence, under the 2 s threshold.
        for (var i = 0; i < 5; i++)
        {
            Assert.Null(policy.Observe(Next(PortProbeOutcome.Hung, TimeSpan.FromMilliseconds(300))));
        }

        Assert.Equal(NodeVerdict.Healthy, policy.Current);
        Assert.Null(policy.Observe(Next(PortProbeOutcome.Pong)));
    }

    [Fact]
    public void Observe_hung_beyond_threshold_is_hung()
    {
        var policy = Healthy();
        VerdictChange? change = null;
        for (var i = 0; i < 10 && change is null; i++)
        {
            change = policy.Observe(Next(PortProbeOutcome.Hung, TimeSpan.FromMilliseconds(500)));
        }

        Assert.Equal(NodeVerdict.Hung, change?.To);
        Assert.True(change!.At - Start >= TimeSpan.FromSeconds(2));
    }

    [Fact]
    public void Observe_hung_then_refused_restarts_the_hang_clock()
    {
        var policy = Healthy();
        policy.Observe(Next(PortProbeOutcome.Hung, TimeSpan.FromSeconds(1)));
        policy.Observe(Next(PortProbeOutcome.Refused, TimeSpan.FromSeconds(1)));

        // The hang clock starts again here; 1.5 s later it is still under the 2 s threshold.
        Assert.Null(policy.Observe(Next(PortProbeOutcome.Hung, TimeSpan.FromSeconds(1))));
        Assert.NotEqual(NodeVerdict.Hung, policy.Observe(Next(PortProbeOutcome.Hung, TimeSpan.FromSeconds(1.5)))?.To);
    }

    [Fact]
    public void Observe_busy_replies_are_busy_never_down()
    {
        var policy = Healthy();

        policy.Observe(Next(PortProbeOutcome.Busy));
        var change = policy.Observe(Next(PortProbeOutcome.Busy));
        for (var i = 0; i < 50; i++)
        {
            Assert.Null(policy.Observe(Next(PortProbeOutcome.Busy, TimeSpan.FromSeconds(1))));
        }

        Assert.Equal(NodeVerdict.Busy, change?.To);
    }

    [Fact]
    public void Observe_auth_failures_are_misconfigured()
    {
        var policy = new VerdictPolicy(_options);

        policy.Observe(Next(PortProbeOutcome.AuthFailed));
        var change = policy.Observe(Next(PortProbeOutcome.AuthFailed));

        Assert.Equal(NodeVerdict.Misconfigured, change?.To);
    }

    [Fact]
    public void Observe_down_then_one_pong_stays_down_until_second_pong()
    {
        var policy = Healthy();
        for (var i = 0; i < 3; i++)
        {
            policy.Observe(Next(PortProbeOutcome.Refused));
        }

        Assert.Null(policy.Observe(Next(PortProbeOutcome.Pong)));
        Assert.Equal(NodeVerdict.ProcessDown, policy.Current);
        Assert.Equal(NodeVerdict.Healthy, policy.Observe(Next(PortProbeOutcome.Pong))?.To);
    }

    private VerdictPolicy Healthy()
    {
        var policy = new VerdictPolicy(_options);
        policy.Observe(Next(PortProbeOutcome.Pong));
        policy.Observe(Next(PortProbeOutcome.Pong));
        Assert.Equal(NodeVerdict.Healthy, policy.Current);
        _elapsed = TimeSpan.Zero;
        return policy;
    }

    private PortProbeResult Next(PortProbeOutcome outcome, TimeSpan? after = null)
    {
        _elapsed += after ?? TimeSpan.FromMilliseconds(100);
        return new PortProbeResult(outcome, Start + _elapsed, TimeSpan.FromMilliseconds(1));
    }
}
