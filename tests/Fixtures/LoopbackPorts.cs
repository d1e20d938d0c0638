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
}
