using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace RedisShared.Hosting;

/// <summary>
/// At most <c>perClient</c> connections open at once from one client, one more closed as it comes,
/// as nginx's <c>limit_conn</c> does: so that one address holding idle connections cannot take every
/// connection the endpoints may hold, and with them the health checks of those who route to the node
/// (HAProxy's check of <c>/primary</c>, a kubelet's). A client is an IPv4 address, or an IPv6 /64 (the
/// least a host is given, so one host cannot pass for many); a connection with no IP address (a Unix
/// socket) is not counted.
/// </summary>
internal sealed class ClientConnections(int perClient, Action<IPAddress> refused)
{
    private readonly Dictionary<IPAddress, int> _open = [];
    private readonly Lock _lock = new();

    /// <summary>Clients with a connection open now.</summary>
    public int Clients
    {
        get
        {
            lock (_lock)
            {
                return _open.Count;
            }
        }
    }

    /// <summary>The client a remote end point counts as, or null when it has no IP address.</summary>
    public static IPAddress? ClientOf(EndPoint? remote)
    {
        if (remote is not IPEndPoint { Address: var address })
        {
            return null;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    /// <summary>True, and counted, when <paramref name="client"/> has fewer than the most open.</summary>
    public bool TryOpen(IPAddress client)
    {
        lock (_lock)
        {
            var open = _open.GetValueOrDefault(client);
            if (open >= perClient)
            {
                return false;
            }

            _open[client] = open + 1;
            return true;
        }
    }

    public void Close(IPAddress client)
    {
        lock (_lock)
        {
            if (_open.TryGetValue(client, out var open))
            {
                if (open <= 1)
                {
                    _open.Remove(client);
                }
                else
                {
                    _open[client] = open - 1;
                }
            }
        }
    }

    /// <summary>Kestrel connection middleware (<c>ListenOptions.Use</c>): a connection past the bound is closed before any byte is read.</summary>
    public ConnectionDelegate Middleware(ConnectionDelegate next) => async context =>
    {
        if (ClientOf(context.RemoteEndPoint) is not { } client)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        if (!TryOpen(client))
        {
            refused(client);
            // Returning closes it: Kestrel disposes a connection its middleware is done with.
            return;
        }

        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            Close(client);
        }
    };
}
