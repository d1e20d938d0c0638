using Microsoft.Extensions.Time.Testing;
using RedisAgent.Logs;

namespace RedisAgent.Tests.Logs;

public sealed class SinkQueueTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 9, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(T0.AddMinutes(5));

    [Fact]
    public async Task Take_in_order_and_counters_add_up()
    {
        var queue = new SinkQueue("test", capacity: 10, _time);
        for (var i = 0; i < 3; i++)
        {
            queue.Offer(Line(i));
        }

        var (first, marker) = await queue.TakeAsync(CancellationToken.None);
        Assert.False(marker);
        Assert.Equal("line 0", first.Text);
        Assert.Equal(new SinkCounters(Received: 3, Shipped: 0, Dropped: 0, Queued: 3), queue.Counters);
        queue.Shipped();
        Assert.Equal(new SinkCounters(3, 1, 0, 2), queue.Counters);
    }

    [Fact]
    public async Task Offer_when_full_drops_the_oldest_and_the_reader_is_told_in_line()
    {
        var queue = new SinkQueue("test", capacity: 3, _time);
        for (var i = 0; i < 10; i++)
        {
            queue.Offer(Line(i));
        }

        Assert.Equal(new SinkCounters(Received: 10, Shipped: 0, Dropped: 7, Queued: 3), queue.Counters);
        var (marker, isMarker) = await queue.TakeAsync(CancellationToken.None);
        Assert.True(isMarker);
        Assert.Equal($"... 7 lines dropped since {T0:yyyy-MM-ddTHH:mm:ss}Z (this sink could not keep up)", marker.Text);
        Assert.Equal(LogSource.Agent, marker.Source);

        var taken = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var (line, isLoss) = await queue.TakeAsync(CancellationToken.None);
            Assert.False(isLoss);
            taken.Add(line.Text);
            queue.Shipped();
        }

        Assert.Equal(["line 7", "line 8", "line 9"], taken);
        Assert.Equal(new SinkCounters(10, 3, 7, 0), queue.Counters);
    }

    [Fact]
    public async Task Gave_up_counts_the_line_as_dropped()
    {
        var queue = new SinkQueue("test", capacity: 3, _time);
        queue.Offer(Line(0));
        var (line, _) = await queue.TakeAsync(CancellationToken.None);

        queue.GaveUp(line);

        Assert.Equal(new SinkCounters(1, 0, 1, 0), queue.Counters);
    }

    [Fact]
    public async Task Concurrent_offers_and_takes_never_break_the_invariant()
    {
        var queue = new SinkQueue("test", capacity: 50, _time);
        using var stop = new CancellationTokenSource();
        var reader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var (_, marker) = await queue.TakeAsync(stop.Token);
                    if (!marker)
                    {
                        queue.Shipped();
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        });

        for (var i = 0; i < 20_000; i++)
        {
            queue.Offer(Line(i));
            if (i % 1000 == 0)
            {
                var c = queue.Counters;
                Assert.Equal(c.Received, c.Shipped + c.Dropped + c.Queued);
            }
        }

        await stop.CancelAsync();
        await reader;
        var final = queue.Counters;
        Assert.Equal(20_000, final.Received);
        Assert.Equal(final.Received, final.Shipped + final.Dropped + final.Queued);
    }

    private static LogLine Line(int i) => new(T0.AddSeconds(i), LogSource.Redis, '*', $"line {i}");
}
