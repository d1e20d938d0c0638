using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using RedisAgent.Logs;

namespace RedisAgent.Tests.Logs;

public sealed class LogBusTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 9, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(T0);

    [Fact]
    public async Task Wait_for_room_sink_behind_but_moving_is_waited_for_until_it_makes_room()
    {
        var bus = new LogBus(Options.Create(new LogOptions()));
        var sink = new SinkQueue("slow", capacity: 10, _time);
        bus.Attach(sink);
        Fill(bus, 8);

        var waiting = bus.WaitForRoomAsync(TimeSpan.FromSeconds(1), _time, CancellationToken.None);
        _time.Advance(TimeSpan.FromMilliseconds(2));
        Assert.False(waiting.IsCompleted);

        for (var i = 0; i < 4; i++)
        {
            await sink.TakeAsync(CancellationToken.None);
            sink.Shipped();
        }

        // The wait re-arms its 2 ms delay on another thread: advance until it sees the room, far less
        // fake time than its 1 s grace, so that only the room can have ended it.
        for (var i = 0; i < 100 && !waiting.IsCompleted; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(2));
            await Task.Delay(1);
        }

        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Wait_for_room_stalled_sink_is_not_waited_for()
    {
        var bus = new LogBus(Options.Create(new LogOptions()));
        bus.Attach(new SinkQueue("stalled", capacity: 10, _time));
        Fill(bus, 8);
        _time.Advance(SinkQueue.StallAfter);

        await bus.WaitForRoomAsync(TimeSpan.FromMinutes(1), _time, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Wait_for_room_never_longer_than_the_grace()
    {
        var bus = new LogBus(Options.Create(new LogOptions()));
        bus.Attach(new SinkQueue("slow", capacity: 10, _time));
        Fill(bus, 8);

        var waiting = bus.WaitForRoomAsync(TimeSpan.FromMilliseconds(100), _time, CancellationToken.None);
        for (var i = 0; i < 60 && !waiting.IsCompleted; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(2));
            await Task.Yield();
            await Task.Delay(1);
        }

        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Subscribe_history_and_sink_together_hold_every_line_once()
    {
        var bus = new LogBus(Options.Create(new LogOptions { HistoryLines = 5 }));
        Fill(bus, 3);
        var sink = new SinkQueue("tail", capacity: 100, _time);

        var history = bus.Subscribe(sink, int.MaxValue);
        Fill(bus, 2, from: 3);

        Assert.Equal(["line 0", "line 1", "line 2"], history.Select(l => l.Text));
        Assert.Equal(new SinkCounters(2, 0, 0, 2), sink.Counters);
        Assert.Equal(["line 1", "line 2", "line 3", "line 4"], bus.History(4).Select(l => l.Text));
    }

    [Fact]
    public async Task Sink_totals_keep_a_departed_tails_counts_and_count_its_unread_lines_as_dropped()
    {
        var bus = new LogBus(Options.Create(new LogOptions()));
        var drain = new SinkQueue("syslog tcp://127.0.0.1:514", capacity: 100, _time);
        var tail = new SinkQueue("tail 127.0.0.1", capacity: 100, _time);
        bus.Attach(drain);
        bus.Subscribe(tail, 0);
        Fill(bus, 3);
        bus.Publish(new LogLine(T0, LogSource.Agent, null, "an agent line"));
        await tail.TakeAsync(CancellationToken.None);
        tail.Shipped();

        bus.Detach(tail);
        var totals = bus.SinkTotals();

        Assert.Equal((new SinkCounters(4, 1, 3, 0), 0), totals["tail"]);
        Assert.Equal((new SinkCounters(4, 0, 0, 4), 1), totals["syslog"]);
        Assert.Equal(3, bus.PublishedFrom(LogSource.Redis));
        Assert.Equal(1, bus.PublishedFrom(LogSource.Agent));

        // A second tail adds to the first's totals rather than replacing them.
        var second = new SinkQueue("tail 127.0.0.2", capacity: 100, _time);
        bus.Subscribe(second, 0);
        Fill(bus, 1);
        Assert.Equal((new SinkCounters(5, 1, 3, 1), 1), bus.SinkTotals()["tail"]);
    }

    private void Fill(LogBus bus, int count, int from = 0)
    {
        for (var i = from; i < from + count; i++)
        {
            bus.Publish(new LogLine(T0.AddSeconds(i), LogSource.Redis, '*', $"line {i}"));
        }
    }
}
