using System.Globalization;

namespace RedisAgent.Load.Harness;

/// <summary>
/// The machine's CPU time so far, from the first line of <c>/proc/stat</c> (all cores, in clock
/// ticks): busy, idle, and stolen (time a virtual CPU was runnable while the hypervisor ran
/// something else). A run's tail moves with the steal of its machine: on this project's 2-core VM
/// the same build measured a fleet p99 of 4.7 ms with 0.3 s stolen and 183.8 ms with 65 s stolen,
/// so each scenario's report carries the steal of its measured part.
/// </summary>
public readonly record struct MachineCpu(long Busy, long Idle, long Steal)
{
    /// <summary>Now, or null where there is no <c>/proc/stat</c> (or it reads unexpectedly).</summary>
    public static MachineCpu? Now()
    {
        try
        {
            return File.Exists("/proc/stat") ? Parse(File.ReadLines("/proc/stat").FirstOrDefault() ?? "") : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// <c>cpu user nice system idle iowait irq softirq steal ...</c> (guest time is already in user
    /// time, so it is not added again); null if the line is not that.
    /// </summary>
    public static MachineCpu? Parse(string line)
    {
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 9 || fields[0] != "cpu")
        {
            return null;
        }

        var ticks = new long[8];
        for (var i = 0; i < ticks.Length; i++)
        {
            if (!long.TryParse(fields[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out ticks[i]))
            {
                return null;
            }
        }

        return new MachineCpu(Busy: ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6], Idle: ticks[3] + ticks[4], Steal: ticks[7]);
    }

    /// <summary>What the machine did between <paramref name="before"/> and <paramref name="after"/>, in shares of its CPU time.</summary>
    public static string Describe(MachineCpu before, MachineCpu after)
    {
        var busy = after.Busy - before.Busy;
        var idle = after.Idle - before.Idle;
        var steal = after.Steal - before.Steal;
        var total = busy + idle + steal;
        if (total <= 0)
        {
            return "no CPU time passed";
        }

        // Linux counts /proc/stat in USER_HZ, 100 a second on every architecture it supports.
        return string.Create(CultureInfo.InvariantCulture,
            $"stolen by the hypervisor {100.0 * steal / total:0.0}% of its CPU time ({steal / 100.0:0.#} s of {total / 100.0:0.#} core-seconds); busy {100.0 * busy / total:0.0}%, idle {100.0 * idle / total:0.0}%");
    }
}
