using Microsoft.Extensions.Time.Testing;
using RedisAgent.Supervision;

namespace RedisAgent.Tests.Supervision;

/// <summary>The restart lease on a fake clock.</summary>
public sealed class RestartLeaseTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 8, 0, 0, TimeSpan.Zero));

    [Fact]
    public void An_agent_without_a_coordinator_always_holds_it()
    {
        var lease = new RestartLease(_time, required: false);

        Assert.True(lease.IsHeld);
        lease.End("ignored");
        Assert.True(lease.IsHeld);
        Assert.False(lease.FenceOnStart);
    }

    [Fact]
    public void Under_a_coordinator_it_is_held_from_the_grant_until_its_time_to_live_runs_out()
    {
        var lease = new RestartLease(_time, required: true);
        Assert.False(lease.IsHeld);
        Assert.Contains("no lease granted yet", lease.WhyNotHeld, StringComparison.Ordinal);

        Assert.True(lease.Grant(TimeSpan.FromSeconds(60), fenceOnStart: false));
        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.True(lease.IsHeld);
        Assert.False(lease.Grant(TimeSpan.FromSeconds(60), fenceOnStart: false));
        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.True(lease.IsHeld);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(lease.IsHeld);
        Assert.Contains("ran out", lease.WhyNotHeld, StringComparison.Ordinal);
    }

    [Fact]
    public void Ended_or_voided_it_says_why_and_a_new_grant_restores_it()
    {
        var lease = new RestartLease(_time, required: true);
        var changes = 0;
        lease.Changed += () => changes++;
        lease.Grant(TimeSpan.FromSeconds(60), fenceOnStart: true);
        Assert.True(lease.FenceOnStart);

        Assert.True(lease.End("term 3: n1's host is under confirmation"));
        Assert.False(lease.IsHeld);
        Assert.Contains("under confirmation", lease.WhyNotHeld, StringComparison.Ordinal);

        Assert.True(lease.Grant(TimeSpan.FromSeconds(60), fenceOnStart: false));
        Assert.True(lease.Void("fenced itself"));
        Assert.False(lease.IsHeld);
        Assert.False(lease.Void("again"));
        Assert.Equal(5, changes);
    }
}
