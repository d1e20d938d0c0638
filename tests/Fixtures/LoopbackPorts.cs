using System.Net;
using System.Net.Sockets;

namespace RedisAgent.Testing;

/// <summary>
/// Free TCP ports on loopback, for servers that must be told their port up front. The kernel may
/// hand a released port out again at once, so each port is given to one caller per test run: two
/// tests running side by side never start servers on the same port (one would then answer for
/// the other's, and die under it).
/// </summary>
public static class LoopbackPorts
{
    private static readonly HashSet<int> Given = [];
    private static readonly HashSet<int> GivenUdp = [];

    public static int Free(IPAddress? address = null)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(address ?? IPAddress.Loopback, 0));
            var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            lock (Given)
            {
                if (Given.Add(port) || attempt >= 1000)
                {
                    return port;
                }
            }
        }
    }

    /// <summary>A free UDP port on loopback (a syslog receiver's), given to one caller per test run like <see cref="Free"/>.</summary>
    public static int FreeUdp()
    {
        for (var attempt = 0; ; attempt++)
        {
            using var socket = new Socket(SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            lock (GivenUdp)
            {
                if (GivenUdp.Add(port) || attempt >= 1000)
                {
                    return port;
                }
            }
        }
    }

    /// <summary>True when something accepts TCP connections at <paramref name="address"/>:<paramref name="port"/> right now.</summary>
    public static bool Accepts(IPAddress address, int port)
    {
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            socket.Connect(address, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
