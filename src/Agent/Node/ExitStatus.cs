using System.Globalization;

namespace RedisAgent.Node;

/// <summary>How a process ended: an exit code, or the signal that killed it.</summary>
internal sealed record ExitStatus(int? Code, int? Signal)
{
    /// <summary>
    /// .NET reports a process killed by signal N as exit code 128 + N (as shells do), so a
    /// code above 128 is read as a signal. A program that exits with such a code on purpose is
    /// reported as signalled, which errs on the side of the louder message.
    /// </summary>
    public static ExitStatus FromProcessExitCode(int code) =>
        code is > 128 and <= 128 + 64 ? new ExitStatus(null, code - 128) : new ExitStatus(code, null);

    public override string ToString() => Signal is { } signal
        ? $"killed by signal {signal.ToString(CultureInfo.InvariantCulture)} ({SignalName(signal)})"
        : $"exit code {Code?.ToString(CultureInfo.InvariantCulture) ?? "unknown"}";

    private static string SignalName(int signal) => signal switch
    {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => "signal " + signal.ToString(CultureInfo.InvariantCulture),
    };
}
