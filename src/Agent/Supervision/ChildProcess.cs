using System.Diagnostics;
using System.Runtime.InteropServices;

namespace RedisAgent.Supervision;

/// <summary>Process helpers the drivers share.</summary>
internal static partial class ChildProcess
{
    public const int SigTerm = 15;

    public const int SigKill = 9;

    /// <summary>
    /// A task that completes when the process exits. Built on the Exited event on purpose:
    /// <see cref="Process.WaitForExitAsync"/> also waits for the end of redirected output,
    /// which a forked child (a BGSAVE, a daemonized server) can hold open for a long time.
    /// Call it after <see cref="Process.Start()"/>.
    /// </summary>
    public static Task WhenExited(Process process)
    {
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => exited.TrySetResult();
        if (HasExited(process))
        {
            exited.TrySetResult();
        }

        return exited.Task;
    }

    public static bool HasExited(Process process)
    {
        try
        {
            return process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    /// <summary>Sends a signal by pid (.NET only offers SIGKILL).</summary>
    public static bool Signal(int pid, int signal) => SysKill(pid, signal) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);
}
