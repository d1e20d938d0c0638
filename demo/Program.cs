using System.Globalization;
using System.Runtime.InteropServices;
using RedisAgent.Demo;
using RedisAgent.Testing;

// redis-demo: a whole resource on loopback aliases, and the two faults the seed describes.
// scripts/demo builds it and runs it; see README.md.
var options = DemoOptions.Parse(args, out var problem);
if (options is null)
{
    await Console.Error.WriteLineAsync(problem).ConfigureAwait(false);
    return problem!.StartsWith("usage", StringComparison.Ordinal) ? 0 : 64;
}

if (Preflight.Check() is { } missing)
{
    await Console.Error.WriteLineAsync(missing).ConfigureAwait(false);
    return 69;
}

using var stop = new CancellationTokenSource();
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

var resource = new DemoResource(options, new DemoConsole());
try
{
    await resource.StartAsync(stop.Token).ConfigureAwait(false);
    await resource.RunAsync(Console.In, stop.Token).ConfigureAwait(false);
    return 0;
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    return 0;
}
catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException)
{
    await Console.Error.WriteLineAsync("redis-demo: " + ex.Message).ConfigureAwait(false);
    return 1;
}
finally
{
    await resource.DisposeAsync().ConfigureAwait(false);
}

void Stop(PosixSignalContext context)
{
    // Ctrl-C and SIGTERM both end the demo through its cleanup, never around it.
    context.Cancel = true;
    stop.Cancel();
}

namespace RedisAgent.Demo
{
    /// <summary>The demo's command line.</summary>
    internal sealed record DemoOptions(TimeSpan Window, int FirstAddress)
    {
        public const string Usage = """
            usage: redis-demo [--window SECONDS] [--first-address N]
              --window SECONDS     the coordinator's confirmation window (default 10; Heroku's is 120)
              --first-address N    the hosts are 127.0.0.N, N+1, N+2 (default 21)
            """;

        public static DemoOptions? Parse(string[] args, out string? problem)
        {
            var window = TimeSpan.FromSeconds(10);
            var first = 21;
            problem = null;
            for (var i = 0; i < args.Length; i++)
            {
                var value = i + 1 < args.Length ? args[i + 1] : null;
                switch (args[i])
                {
                    case "--window" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds is >= 2 and <= 600:
                        window = TimeSpan.FromSeconds(seconds);
                        i++;
                        break;
                    case "--first-address" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 2 and <= 250:
                        first = n;
                        i++;
                        break;
                    case "-h" or "--help":
                        problem = Usage;
                        return null;
                    default:
                        problem = $"redis-demo: bad argument '{args[i]}'{(value is null ? "" : $" '{value}'")}: --window takes 2-600 seconds, --first-address 2-250\n{Usage}";
                        return null;
                }
            }

            return new DemoOptions(window, first);
        }
    }

    /// <summary>What the demo needs from the machine, said exactly when it is missing.</summary>
    internal static class Preflight
    {
        private static readonly (string Binary, string Package)[] Needed =
        [
            ("/usr/bin/redis-server", "redis-server"),
            ("/usr/sbin/sshd", "openssh-server"),
            ("/usr/sbin/iptables", "iptables"),
        ];

        public static string? Check()
        {
            var missing = Needed.Where(n => !File.Exists(n.Binary)).Select(n => n.Package).ToList();
            if (missing.Count > 0)
            {
                return $"redis-demo needs these Debian packages: {string.Join(' ', missing)}\n" +
                       $"  install them with: sudo apt-get install {string.Join(' ', missing)}\n" +
                       "  (scripts/demo installs them itself when run as root)";
            }

            if (Environment.UserName != "root")
            {
                return "redis-demo runs an sshd for each host and cuts a host off with iptables: run it as root (sudo scripts/demo).";
            }

            foreach (var file in new[] { "redis-agent", "redis-failover" })
            {
                if (!File.Exists(Binaries.Path(file)))
                {
                    return $"redis-demo: {Binaries.Path(file)} does not exist; run the demo through scripts/demo (or set {Binaries.Variable} to scripts/publish-aot's output).";
                }
            }

            return null;
        }
    }
}
