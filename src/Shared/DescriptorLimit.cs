using System.Runtime.InteropServices;

namespace RedisShared.Hosting;

/// <summary>
/// The process's open-file limit (<c>RLIMIT_NOFILE</c>). Every connection a daemon holds is a
/// descriptor; at the limit, nothing new opens: not an accepted connection, and not the agent's own
/// probe of Redis. .NET's JIT runtime raises the soft limit to the hard one as it starts; a NativeAOT
/// binary (what ships) does not, so under systemd (1024 soft) the coordinator could not hold more than
/// about a thousand agents, and an agent could be blinded by a thousand idle connections. Both
/// programs raise it themselves, and bound what their listeners hold open below it.
/// </summary>
internal static partial class DescriptorLimit
{
    /// <summary>Descriptors kept for the program's own work (Redis's pipes, probes, the coordinator link, drains, SSH, files).</summary>
    public const int Reserved = 256;

    private const int RlimitNofile = 7;

    /// <summary>Raises the soft limit to the hard limit (where it can be read and set).</summary>
    public static void Raise()
    {
        if (OperatingSystem.IsLinux() && GetRLimit(RlimitNofile, out var limit) == 0 && limit.Current < limit.Maximum)
        {
            _ = SetRLimit(RlimitNofile, new RLimit { Current = limit.Maximum, Maximum = limit.Maximum });
        }
    }

    /// <summary>The soft limit in force (null where it cannot be read).</summary>
    public static long? Current() =>
        OperatingSystem.IsLinux() && GetRLimit(RlimitNofile, out var limit) == 0 ? Clamp(limit.Current) : null;

    /// <summary>
    /// What a listener may hold open: <paramref name="wanted"/>, or, when the limit (less
    /// <paramref name="reserved"/> for everything else) cannot hold that and the
    /// <paramref name="others"/> the program's other listeners want, its share of what it can hold,
    /// in proportion to what each wants; never below 1.
    /// </summary>
    public static int Share(int wanted, int others, long? limit, long reserved = Reserved)
    {
        if (limit is not { } l || wanted + (long)others <= l - reserved)
        {
            return wanted;
        }

        return (int)Math.Max(1, Math.Max(0, l - reserved) * wanted / (wanted + (long)others));
    }

    private static long Clamp(ulong value) => value > long.MaxValue ? long.MaxValue : (long)value;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, in RLimit limit);
}
