using System.Diagnostics;
using System.IO.Pipes;

namespace RedisAgent.Load.Harness;

/// <summary>
/// What it costs one thread to wake another on this machine, the way <c>perf bench sched pipe</c>
/// measures it: two threads pass a byte back and forth through two pipes, each blocked in a read
/// until the other writes. Half a round trip is one hand-off: a write, a wake-up, a read.
/// </summary>
public static class HandOff
{
    /// <summary>Microseconds a hand-off, over at most <paramref name="roundTrips"/> round trips or 2 s, whichever ends first.</summary>
    public static double Measure(int roundTrips = 20_000)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(roundTrips);
        using var there = new AnonymousPipeServerStream(PipeDirection.Out);
        using var thereIn = new AnonymousPipeClientStream(PipeDirection.In, there.ClientSafePipeHandle);
        using var back = new AnonymousPipeServerStream(PipeDirection.Out);
        using var backIn = new AnonymousPipeClientStream(PipeDirection.In, back.ClientSafePipeHandle);
        var echo = new Thread(() =>
        {
            var one = new byte[1];
            // Echoes until its pipe closes (a read of 0), so it ends with the measurement.
            while (thereIn.Read(one, 0, 1) == 1)
            {
                back.Write(one, 0, 1);
            }
        })
        { IsBackground = true, Name = "hand-off echo" };
        echo.Start();

        var b = new byte[1];
        var deadline = TimeSpan.FromSeconds(2);
        var clock = Stopwatch.StartNew();
        var done = 0;
        while (done < roundTrips && clock.Elapsed < deadline)
        {
            there.Write(b, 0, 1);
            if (backIn.Read(b, 0, 1) != 1)
            {
                break;
            }

            done++;
        }

        var elapsed = clock.Elapsed;
        there.Dispose();
        echo.Join(TimeSpan.FromSeconds(2));
        return done == 0 ? 0 : elapsed.TotalMicroseconds / (2.0 * done);
    }
}
