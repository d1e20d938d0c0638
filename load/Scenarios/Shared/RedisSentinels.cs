using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace RedisAgent.Load;

/// <summary>
/// Redis Sentinel as the comparisons run it: one sentinel per host, bound to the host's address (so
/// a host cut off takes its sentinel with it), quorum 2, down-after equal to our window.
/// </summary>
internal static class RedisSentinels
{
    /// <summary>Starts the sentinel of the host at <paramref name="address"/>, watching the primary at <paramref name="primaryAddress"/>:<paramref name="primaryPort"/>; its port is the last argument.</summary>
    public static Process Start(string name, string address, string primaryAddress, int primaryPort, TimeSpan window, string directory)
    {
        var port = FreePortOn(address);
        var config = Path.Combine(directory, $"sentinel-{name}.conf");
        File.WriteAllText(config, $"""
            port {port}
            bind {address}
            protected-mode no
            daemonize no
            dir {directory}
            logfile {Path.Combine(directory, $"sentinel-{name}.log")}
            sentinel announce-ip {address}
            sentinel monitor cache {primaryAddress} {primaryPort} 2
            sentinel down-after-milliseconds cache {(int)window.TotalMilliseconds}
            sentinel failover-timeout cache {(int)(window.TotalMilliseconds * 2)}
            sentinel parallel-syncs cache 1
            """);
        return LoadProcesses.StartDrained(new ProcessStartInfo("/usr/bin/redis-server", [config, "--sentinel", "--port", port.ToString(CultureInfo.InvariantCulture)]));
    }

    /// <summary>Kills the sentinels this run started (by their PIDs) and waits for each.</summary>
    public static async Task StopAsync(IEnumerable<Process> sentinels)
    {
        foreach (var sentinel in sentinels.Where(s => !s.HasExited))
        {
            sentinel.Kill();
            await sentinel.WaitForExitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The port <paramref name="sentinel"/> listens on.</summary>
    public static int Port(Process sentinel) => int.Parse(sentinel.StartInfo.ArgumentList[^1], CultureInfo.InvariantCulture);

    /// <summary>Failovers the sentinels in <paramref name="directory"/> saw: every sentinel logs +switch-master when it learns of one; the most any one saw.</summary>
    public static int Failovers(string directory) =>
        Directory.GetFiles(directory, "sentinel-*.log")
            .Select(f => File.ReadAllLines(f).Count(l => l.Contains("+switch-master", StringComparison.Ordinal)))
            .DefaultIfEmpty(0)
            .Max();

    private static int FreePortOn(string address)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(address), 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
