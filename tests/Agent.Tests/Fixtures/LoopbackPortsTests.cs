using System.Globalization;
using System.Net;
using System.Net.Sockets;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Fixtures;

/// <summary>The ports tests start servers on are never ones the kernel hands out by itself.</summary>
public sealed class LoopbackPortsTests
{
    [Fact]
    public void Ports_given_are_distinct_free_and_below_the_kernels_ephemeral_range()
    {
        var ephemeralLow = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split('\t', ' ')[0], CultureInfo.InvariantCulture);
        var ports = Enumerable.Range(0, 50).Select(_ => LoopbackPorts.Free()).ToList();

        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, p => Assert.InRange(p, 1024, ephemeralLow - 1));
        // Each is free: a server can bind it now.
        foreach (var port in ports)
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
        }
    }
}
