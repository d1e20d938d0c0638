extern alias agent;
using agent::RedisAgent.Coordination;
using Microsoft.Extensions.Time.Testing;

namespace RedisAgent.Tests.Coordination;

/// <summary>
/// The isolation fence sleeps until the moment it could first be due; a stream that closes must end
/// that sleep at once, since the coordinator's last word stops counting then. Only a close does:
/// a stream that opens, or a state that does not change, leaves the sleep alone (how the sleep
/// ends at its time is ProbeWakeupTests').
/// </summary>
public sealed class LinkStateTests
{
    [Fact]
    public async Task A_stream_that_closes_wakes_a_sleeper_at_once_and_nothing_else_does()
    {
        var time = new FakeTimeProvider();
        var link = new LinkState();

        link.Connected = true;
        link.Connected = true;
        link.Connected = false;
        link.Connected = false;
        // One wake is held for the next sleeper: it returns without the clock moving.
        await link.Lost.WaitAsync(TimeSpan.FromSeconds(1), time, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        // Opening does not wake: the sleeper waits for its time.
        var sleeping = link.Lost.WaitAsync(TimeSpan.FromSeconds(1), time, CancellationToken.None);
        link.Connected = true;
        Assert.False(sleeping.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(sleeping.IsCompleted);

        // Closing does, before its time.
        link.Connected = false;
        await sleeping.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
