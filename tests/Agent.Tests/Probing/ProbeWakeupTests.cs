using Microsoft.Extensions.Time.Testing;
using RedisAgent.Probing;
using RedisAgent.Node;

namespace RedisAgent.Tests.Probing;

public sealed class ProbeWakeupTests
{
    [Fact]
    public async Task Wait_async_woken_returns_before_the_timeout()
    {
        var time = new FakeTimeProvider();
        var wakeup = new ProbeWakeup();
        var waiting = wakeup.WaitAsync(TimeSpan.FromMinutes(5), time, CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        wakeup.Wake();

        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Wait_async_not_woken_returns_at_the_timeout_and_keeps_no_stale_wake()
    {
        var time = new FakeTimeProvider();
        var wakeup = new ProbeWakeup();
        var waiting = wakeup.WaitAsync(TimeSpan.FromSeconds(5), time, CancellationToken.None);

        time.Advance(TimeSpan.FromSeconds(5));
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));

        // The timed-out wait must not have left the semaphore taken or released.
        var next = wakeup.WaitAsync(TimeSpan.FromSeconds(5), time, CancellationToken.None);
        Assert.False(next.IsCompleted);
        wakeup.Wake();
        await next.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Wake_before_the_wait_is_kept_for_it()
    {
        var wakeup = new ProbeWakeup();
        wakeup.Wake();
        wakeup.Wake();

        await wakeup.WaitAsync(TimeSpan.FromMinutes(5), new FakeTimeProvider(), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
    }
}
