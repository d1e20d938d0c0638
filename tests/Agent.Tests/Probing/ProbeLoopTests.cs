using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using RedisAgent.Probing;

namespace RedisAgent.Tests.Probing;

/// <summary>
/// The probe loop's cadence on a fake clock: when a probe's deadline falls when the next probe is
/// due (the defaults), one timer serves both; otherwise the probe still gets its deadline and the
/// next probe its interval.
/// </summary>
public sealed class ProbeLoopTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_deadline_that_falls_when_the_next_probe_is_due_is_the_only_timer_a_probe_costs()
    {
        var time = new CountingTime();
        var starts = Channel.CreateUnbounded<TimeSpan>();
        using var stop = new CancellationTokenSource();
        var loop = ProbeLoop.RunAsync("test", (_, _) => Started(starts, time), Second, TimeSpan.FromMilliseconds(200), time, NullLogger.Instance, stop.Token, timeout: Second);

        Assert.Equal(TimeSpan.Zero, await Next(starts));
        time.Fake.Advance(Second - TimeSpan.FromMilliseconds(1));
        Assert.False(starts.Reader.TryRead(out _));

        time.Fake.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(Second, await Next(starts));
        // The second probe's deadline is the second timer: the wait in between made none of its own.
        Assert.Equal(2, time.Timers);

        await stop.CancelAsync();
        await loop.WaitAsync(Patience);
    }

    [Fact]
    public async Task A_probe_is_given_up_at_its_timeout_and_the_next_one_still_waits_for_the_interval()
    {
        var time = new CountingTime();
        var starts = Channel.CreateUnbounded<TimeSpan>();
        var givenUp = Channel.CreateUnbounded<TimeSpan>();
        using var stop = new CancellationTokenSource();
        var timeout = TimeSpan.FromMilliseconds(300);
        var loop = ProbeLoop.RunAsync(
            "test",
            async (deadline, stopping) =>
            {
                await Started(starts, time).ConfigureAwait(false);
                // A target that never answers: the probe waits for its deadline.
                var fell = new TaskCompletionSource();
                using var either = CancellationTokenSource.CreateLinkedTokenSource(deadline, stopping);
                await using (either.Token.Register(() => fell.SetResult()).ConfigureAwait(false))
                {
                    await fell.Task.ConfigureAwait(false);
                }

                givenUp.Writer.TryWrite(time.Fake.GetUtcNow() - Start);
                return true;
            },
            Second,
            TimeSpan.FromMilliseconds(200),
            time,
            NullLogger.Instance,
            stop.Token,
            timeout: timeout);

        Assert.Equal(TimeSpan.Zero, await Next(starts));
        time.Fake.Advance(timeout);
        Assert.Equal(timeout, await Next(givenUp));
        // The deadline, then the wait for the rest of the interval: its own timer this time.
        await Until(() => time.Timers == 2);

        time.Fake.Advance(Second - timeout - TimeSpan.FromMilliseconds(1));
        Assert.False(starts.Reader.TryRead(out _));
        time.Fake.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(Second, await Next(starts));

        await stop.CancelAsync();
        await loop.WaitAsync(Patience);
    }

    [Fact]
    public async Task Stopping_ends_a_wait_that_a_deadline_would_have_ended()
    {
        var time = new CountingTime();
        var starts = Channel.CreateUnbounded<TimeSpan>();
        using var stop = new CancellationTokenSource();
        var loop = ProbeLoop.RunAsync("test", (_, _) => Started(starts, time), Second, TimeSpan.FromMilliseconds(200), time, NullLogger.Instance, stop.Token, timeout: Second);
        await Next(starts);

        await stop.CancelAsync();

        await loop.WaitAsync(Patience);
        Assert.False(starts.Reader.TryRead(out _));
    }

    private static Task<TimeSpan> Next(Channel<TimeSpan> channel) => channel.Reader.ReadAsync().AsTask().WaitAsync(Patience);

    private static async Task Until(Func<bool> condition)
    {
        using var patience = new CancellationTokenSource(Patience);
        while (!condition())
        {
            await Task.Delay(5, patience.Token);
        }
    }

    private static readonly DateTimeOffset Start = new(2026, 12, 2, 9, 0, 0, TimeSpan.Zero);

    private static Task<bool> Started(Channel<TimeSpan> starts, CountingTime time)
    {
        starts.Writer.TryWrite(time.Fake.GetUtcNow() - Start);
        return Task.FromResult(true);
    }

    /// <summary>A fake clock that counts the timers made on it.</summary>
    private sealed class CountingTime : TimeProvider
    {
        private int _timers;

        public FakeTimeProvider Fake { get; } = new(Start);

        public int Timers => Volatile.Read(ref _timers);

        public override long TimestampFrequency => Fake.TimestampFrequency;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Interlocked.Increment(ref _timers);
            return Fake.CreateTimer(callback, state, dueTime, period);
        }

        public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();

        public override long GetTimestamp() => Fake.GetTimestamp();
    }
}
