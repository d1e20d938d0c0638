using System.Net;
using System.Net.Sockets;

namespace RedisAgent.Testing;

/// <summary>Free TCP ports on loopback, for servers that must be told their port up front.</summary>
public static class LoopbackPorts
{
    public static int Free(IPAddress? address = null)
    {
        using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(address ?? IPAddress.Loopback, 0));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
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
