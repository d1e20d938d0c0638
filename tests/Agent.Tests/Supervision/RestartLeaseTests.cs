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
    public void Under_a_coordinator_it_is_held_from_the_grant_and_once_it_runs_out_the_agent_restarts_alone_and_fenced()
    {
        var lease = new RestartLease(_time, required: true);
        var changes = 0;
        lease.Changed += () => changes++;
        lease.Link(up: true);
        Assert.False(lease.IsHeld);
        Assert.False(lease.Alone);
        Assert.Contains("no lease granted yet", lease.WhyNotHeld, StringComparison.Ordinal);

        Assert.True(lease.Grant(TimeSpan.FromSeconds(60), fenceOnStart: false));
        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.True(lease.IsHeld);
        Assert.False(lease.Grant(TimeSpan.FromSeconds(60), fenceOnStart: false));
        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.True(lease.IsHeld);
        Assert.False(lease.Alone);
        Assert.False(lease.FenceOnStart);
        var before = changes;
        _time.Advance(TimeSpan.FromSeconds(1));

        // Not renewed: no coordinator answers, whatever the stream says. A restart goes ahead, fenced,
        // and the supervisor hears of it when it happens (a restart held for the lease goes ahead then).
        Assert.True(lease.Alone);
        Assert.True(lease.IsHeld);
        Assert.True(lease.FenceOnStart);
        Assert.Contains("ran out", lease.WhyNotHeld, StringComparison.Ordinal);
        Assert.Equal(before + 1, changes);
    }

    [Fact]
    public void A_coordinator_that_withholds_it_holds_the_restart_until_it_is_lost()
    {
        var lease = new RestartLease(_time, required: true);
        var changes = 0;
        lease.Changed += () => changes++;

        // Not connected yet: nobody could say no.
        Assert.True(lease.Alone);
        Assert.True(lease.FenceOnStart);

        lease.Link(up: true);
        lease.Grant(TimeSpan.FromSeconds(60), fenceOnStart: false);
        lease.End("term 3: n1's host is under confirmation");
        _time.Advance(TimeSpan.FromMinutes(10));
        Assert.False(lease.IsHeld);
        Assert.False(lease.Alone);

        lease.Link(up: false);
        Assert.True(lease.IsHeld);
        Assert.True(lease.Alone);
        Assert.True(lease.FenceOnStart);
        Assert.Equal(4, changes);

        // A lease granted while the link is down again (it came back, granted, went) is the coordinator's word: not alone.
        lease.Grant(TimeSpan.FromSeconds(60), fenceOnStart: false);
        Assert.False(lease.Alone);
        Assert.False(lease.FenceOnStart);
    }

    [Fact]
    public void Ended_or_voided_it_says_why_and_a_new_grant_restores_it()
    {
        var lease = new RestartLease(_time, required: true);
        lease.Link(up: true);
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
