using System.Globalization;

namespace RedisAgent.Supervision;

/// <summary>
/// The exec driver's record of the server it started: pid, binary and the kernel's start time of
/// that pid. An agent killed with SIGKILL leaves its server running; the next agent finds it here
/// and knows it for its own only when all three still match (a reused pid, or another program on
/// the port, is never touched).
/// </summary>
internal sealed class ExecPidFile(string path)
{
    public string Path { get; } = path;

    public static ExecPidFile For(string stateDirectory, int port) =>
        new(System.IO.Path.Combine(stateDirectory, "redis-" + port.ToString(CultureInfo.InvariantCulture) + ".pid"));

    public void Write(int pid, string binary)
    {
        var directory = System.IO.Path.GetDirectoryName(Path)!;
        Directory.CreateDirectory(directory);
        var temporary = Path + ".tmp";
        File.WriteAllText(temporary, string.Create(CultureInfo.InvariantCulture, $"{pid}\n{StartTime(pid)}\n{binary}\n"));
        File.Move(temporary, Path, overwrite: true);
    }

    public void Delete()
    {
        try
        {
            File.Delete(Path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>The pid of the server an earlier agent started with <paramref name="binary"/>, when it still runs; otherwise null.</summary>
    public int? FindRunning(string binary)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(Path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        if (lines.Length < 3
            || !int.TryParse(lines[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            || pid <= 1
            || lines[1].Length == 0
            || StartTime(pid) != lines[1]
            || !SameFile(Executable(pid), lines[2])
            || !SameFile(lines[2], binary))
        {
            return null;
        }

        return IsRunning(pid) ? pid : null;
    }

    /// <summary>True while the process exists and is not a zombie.</summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..].Split(' ', 2)[0];
            return state is not ("Z" or "X");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot; "" when unreadable.</summary>
    private static string StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // After the command name (which may hold spaces and parentheses) come fields 3 onwards.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields.Length > 19 ? fields[19] : "";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static string? Executable(int pid)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/exe").ResolveLinkTarget(returnFinalTarget: true)?.FullName;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool SameFile(string? a, string? b)
    {
        if (a is null || b is null)
        {
            return false;
        }

        static string Real(string p) => new FileInfo(p).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? System.IO.Path.GetFullPath(p);
        return string.Equals(Real(a), Real(b), StringComparison.Ordinal);
    }
}
