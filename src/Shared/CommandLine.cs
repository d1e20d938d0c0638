using System.Reflection;

namespace RedisShared.Hosting;

/// <summary>
/// What a daemon's command line may hold before anything starts: <c>--help</c>, <c>--version</c>,
/// and configuration overrides (<c>--Section:Key=value</c> or <c>--Section:Key value</c>) whose
/// section the program knows. Anything else is a usage error (exit 64, EX_USAGE), so that a
/// mistyped verb or option never starts a daemon (which, as root, would start a Redis too).
/// </summary>
internal static class CommandLine
{
    /// <summary>sysexits.h EX_USAGE.</summary>
    public const int UsageExitCode = 64;

    /// <summary>An exit code when the command line is handled here (help, version, a usage error); null to go on and run.</summary>
    public static int? Preflight(string program, string[] args, IReadOnlyCollection<string> sections, string usage, TextWriter output, TextWriter error)
    {
        if (args is ["--help" or "-h" or "help", ..])
        {
            output.WriteLine(usage);
            return 0;
        }

        if (args is ["--version" or "-V" or "version", ..])
        {
            output.WriteLine($"{program} {Version}");
            return 0;
        }

        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                error.WriteLine($"{program}: unknown {(i == 0 ? "verb" : "argument")} '{Printable(arg)}'. See {program} --help.");
                return UsageExitCode;
            }

            var key = arg[2..];
            var equals = key.IndexOf('=', StringComparison.Ordinal);
            var section = (equals >= 0 ? key[..equals] : key).Split(':', '_')[0];
            if (!sections.Contains(section, StringComparer.OrdinalIgnoreCase))
            {
                error.WriteLine($"{program}: unknown option '{Printable(equals >= 0 ? arg[..(equals + 2)] : arg)}'. Options are configuration keys (--Section:Key=value) of: {string.Join(", ", sections)}. See {program} --help.");
                return UsageExitCode;
            }

            if (equals < 0)
            {
                if (i + 1 >= args.Length)
                {
                    error.WriteLine($"{program}: option '{Printable(arg)}' needs a value (--{key}=value). See {program} --help.");
                    return UsageExitCode;
                }

                i++;
            }
        }

        return null;
    }

    public static string Version =>
        typeof(CommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(CommandLine).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    /// <summary>An argument as it may appear in an error line: no control characters, no flood (it is never a secret: values are not echoed).</summary>
    private static string Printable(string value) =>
        string.Concat((value.Length > 60 ? value[..60] + "..." : value).Select(c => char.IsControl(c) ? '?' : c));
}
