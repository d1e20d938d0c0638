using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace RedisAgent.Testing;

/// <summary>
/// Debian's HAProxy running the repository's deploy/haproxy/haproxy.cfg, its example addresses
/// replaced by the nodes under test: each server at its Redis, checked at its agent's HTTP port;
/// the two frontends on free loopback ports. Killed (by its PID) on dispose.
/// </summary>
public sealed partial class Haproxy : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/haproxy";

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private Haproxy(Process process, int primaryPort, int replicaPort)
    {
        _process = process;
        PrimaryPort = primaryPort;
        ReplicaPort = replicaPort;
    }

    /// <summary>The frontend that reaches the current primary.</summary>
    public int PrimaryPort { get; }

    /// <summary>The frontend that reaches a linked replica.</summary>
    public int ReplicaPort { get; }

    public string Output => string.Join('\n', _output);

    /// <summary>A node behind HAProxy: its name, its Redis and its agent's HTTP port, all on <paramref name="Address"/>.</summary>
    public readonly record struct Node(string Name, string Address, int RedisPort, int AgentPort);

    /// <summary>Starts HAProxy on <paramref name="shippedConfiguration"/> (the file's text) for <paramref name="nodes"/> (db-1, db-2, db-3 in order), writing the configuration in <paramref name="directory"/>.</summary>
    public static Haproxy Start(string shippedConfiguration, IReadOnlyList<Node> nodes, string directory)
    {
        var (primaryPort, replicaPort) = (LoopbackPorts.Free(), LoopbackPorts.Free());
        var path = Path.Combine(directory, "haproxy.cfg");
        File.WriteAllText(path, Rewrite(shippedConfiguration, primaryPort, replicaPort, nodes));
        var process = Process.Start(new ProcessStartInfo(Binary, ["-db", "-f", path]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
        var haproxy = new Haproxy(process, primaryPort, replicaPort);
        process.OutputDataReceived += (_, e) => haproxy._output.Enqueue(e.Data ?? "");
        process.ErrorDataReceived += (_, e) => haproxy._output.Enqueue(e.Data ?? "");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return haproxy;
    }

    /// <summary>The shipped text with the test's addresses; throws when the file no longer has the lines this replaces.</summary>
    public static string Rewrite(string text, int primaryPort, int replicaPort, IReadOnlyList<Node> nodes)
    {
        var binds = 0;
        text = BindLine().Replace(text, match =>
        {
            binds++;
            return "bind 127.0.0.1:" + (match.Groups[1].Value == "6380" ? primaryPort : replicaPort).ToString(CultureInfo.InvariantCulture);
        });
        var servers = 0;
        text = ServerLine().Replace(text, match =>
        {
            servers++;
            var node = nodes[int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) - 1];
            return $"server {node.Name} {node.Address}:{node.RedisPort} check addr {node.Address} port {node.AgentPort}";
        });
        return binds == 2 && servers == 2 * nodes.Count
            ? text
            : throw new InvalidOperationException($"deploy/haproxy/haproxy.cfg changed: {binds} bind lines (2 expected) and {servers} server lines ({2 * nodes.Count} expected) to rewrite");
    }

    [GeneratedRegex(@"bind 127\.0\.0\.1:(6380|6381)")]
    private static partial Regex BindLine();

    [GeneratedRegex(@"server db-(\d) db-\d:6379 check port 9379")]
    private static partial Regex ServerLine();

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }

        _process.Dispose();
    }
}
