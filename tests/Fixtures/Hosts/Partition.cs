using System.Diagnostics;

namespace RedisAgent.Testing.Hosts;

/// <summary>
/// A lost host: iptables DROP of everything to and from its loopback alias. Every rule carries a
/// comment tag so a sweep can find leftovers, and is removed on dispose whatever happened.
/// Only loopback aliases (127.0.0.0/8) are accepted.
/// </summary>
public sealed class Partition : IDisposable
{
    public const string Tag = "redis-agent-test";

    private readonly List<string[]> _rules = [];

    private Partition(string address)
    {
        if (!System.Net.IPAddress.TryParse(address, out var ip) || !System.Net.IPAddress.IsLoopback(ip) || address == "127.0.0.1")
        {
            throw new ArgumentException($"Partitions are for loopback aliases only, not {address}.", nameof(address));
        }

        Address = address;
    }

    public string Address { get; }

    public static Partition Isolate(string address)
    {
        var partition = new Partition(address);
        try
        {
            partition.Add(["INPUT", "-d", address, "-j", "DROP"]);
            partition.Add(["OUTPUT", "-s", address, "-j", "DROP"]);
        }
        catch
        {
            partition.Dispose();
            throw;
        }

        return partition;
    }

    /// <summary>Cuts traffic between two aliases only (both directions); each keeps talking to everyone else.</summary>
    public static Partition Between(string address, string other)
    {
        var partition = new Partition(address);
        _ = new Partition(other);
        try
        {
            partition.Add(["INPUT", "-s", address, "-d", other, "-j", "DROP"]);
            partition.Add(["INPUT", "-s", other, "-d", address, "-j", "DROP"]);
        }
        catch
        {
            partition.Dispose();
            throw;
        }

        return partition;
    }

    /// <summary>
    /// Cuts one alias off one TCP port on this machine (both directions), whatever address serves
    /// it: e.g. an agent talking from its host's alias to a coordinator on 127.0.0.1, while both
    /// keep talking to everyone else.
    /// </summary>
    public static Partition FromPort(string address, int port)
    {
        var partition = new Partition(address);
        var number = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            partition.Add(["INPUT", "-s", address, "-p", "tcp", "--dport", number, "-j", "DROP"]);
            partition.Add(["INPUT", "-d", address, "-p", "tcp", "--sport", number, "-j", "DROP"]);
        }
        catch
        {
            partition.Dispose();
            throw;
        }

        return partition;
    }

    /// <summary>Removes every rule a test run left behind (a crashed run cannot reach its Dispose).</summary>
    public static void SweepLeftovers()
    {
        var (_, listing) = Iptables(["-S"]);
        foreach (var line in listing.Split('\n').Where(l => l.StartsWith("-A ", StringComparison.Ordinal) && l.Contains(Tag, StringComparison.Ordinal)))
        {
            var arguments = SplitRule(line[3..]);
            Iptables(["-D", .. arguments]);
        }
    }

    public void Dispose()
    {
        foreach (var rule in _rules)
        {
            Iptables(["-D", .. rule]);
        }

        _rules.Clear();
    }

    private void Add(string[] rule)
    {
        string[] tagged = [.. rule[..^2], "-m", "comment", "--comment", Tag, .. rule[^2..]];
        var (code, output) = Iptables(["-I", .. tagged]);
        if (code != 0)
        {
            throw new InvalidOperationException($"iptables -I {string.Join(' ', tagged)} failed: {output}");
        }

        _rules.Add(tagged);
    }

    private static (int Code, string Output) Iptables(string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo("iptables", ["-w", "5", .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }

    private static string[] SplitRule(string rule)
    {
        // iptables -S quotes comments that contain spaces; ours has none, so plain splitting holds.
        return rule.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(a => a.Trim('"')).ToArray();
    }
}
