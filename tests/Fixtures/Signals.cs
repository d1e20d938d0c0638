using System.Runtime.InteropServices;

namespace RedisAgent.Testing;

/// <summary>Sends signals to processes the tests started (and only those: callers pass pids they own).</summary>
public static partial class Signals
{
    public const int SigKill = 9;
    public const int SigInt = 2;
    public const int SigTerm = 15;
    public const int SigCont = 18;
    public const int SigStop = 19;
    public const int SigHup = 1;

    public static void Send(int pid, int signal)
    {
        if (pid <= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(pid), pid, "refusing to signal pid <= 1");
        }

        if (Kill(pid, signal) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            // ESRCH: already gone, which is what the caller wanted.
            if (errno != 3)
            {
                throw new InvalidOperationException($"kill({pid}, {signal}) failed with errno {errno}");
            }
        }
    }

    public static bool IsAlive(int pid) => pid > 1 && Kill(pid, 0) == 0;

    /// <summary>Gone, or a zombie waiting for its parent (PID 1, for daemons) to reap it: it runs nothing any more.</summary>
    public static bool IsGone(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(System.Globalization.CultureInfo.InvariantCulture)}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            // FileNotFound and DirectoryNotFound both: no such process.
            return true;
        }
    }

    /// <summary>The processes descended from <paramref name="pid"/>, read from /proc.</summary>
    public static IReadOnlyList<int> Descendants(int pid)
    {
        var parents = new Dictionary<int, int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var child))
            {
                continue;
            }

            try
            {
                // Field 4 of /proc/PID/stat, after the ")" that closes the command name.
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                parents[child] = int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // Exited while we looked.
            }
        }

        var found = new List<int>();
        var queue = new Queue<int>([pid]);
        while (queue.TryDequeue(out var parent))
        {
            foreach (var (child, ppid) in parents)
            {
                if (ppid == parent)
                {
                    found.Add(child);
                    queue.Enqueue(child);
                }
            }
        }

        return found;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
