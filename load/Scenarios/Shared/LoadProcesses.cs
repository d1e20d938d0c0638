using System.Diagnostics;
using System.Globalization;

namespace RedisAgent.Load;

/// <summary>The processes a scenario starts and measures: started with their output drained, read from /proc; and a free loopback port.</summary>
internal static class LoadProcesses
{
    /// <summary>Starts <paramref name="startInfo"/> with its output redirected and drained, so a chatty child never blocks on a full pipe.</summary>
    public static Process StartDrained(ProcessStartInfo startInfo) => Start(startInfo, kept: null);

    /// <summary>Like <see cref="StartDrained"/>, keeping what the process writes to standard output in <paramref name="output"/>.</summary>
    public static Process StartDrainedWithOutput(ProcessStartInfo startInfo, out System.Text.StringBuilder output)
    {
        output = new System.Text.StringBuilder();
        return Start(startInfo, output);
    }

    private static Process Start(ProcessStartInfo startInfo, System.Text.StringBuilder? kept)
    {
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        startInfo.UseShellExecute = false;
        var process = Process.Start(startInfo)!;
        process.OutputDataReceived += (_, e) =>
        {
            if (kept is not null && e.Data is not null)
            {
                lock (kept)
                {
                    kept.Append(e.Data).Append('\n');
                }
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>User + system CPU time of <paramref name="pid"/>, in milliseconds (10 ms ticks).</summary>
    public static long CpuMs(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) * 10;
    }

    public static long RssKb(int pid) => StatusKb(pid, "VmRSS:");

    public static long PeakRssKb(int pid) => StatusKb(pid, "VmHWM:");

    /// <summary>A free loopback port for a server told its port up front: the tests' (below the kernel's ephemeral range, one per caller).</summary>
    public static int FreePort() => RedisAgent.Testing.LoopbackPorts.Free();

    private static long StatusKb(int pid, string field) =>
        long.Parse(File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith(field, StringComparison.Ordinal))[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
}
