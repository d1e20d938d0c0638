using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace RedisAgent.Testing;

/// <summary>
/// Free TCP and UDP ports on loopback, for servers that must be told their port up front.
/// </summary>
/// <remarks>
/// A port is taken from below the kernel's ephemeral range
/// (<c>/proc/sys/net/ipv4/ip_local_port_range</c>), never from a bind to port 0: the kernel hands
/// an ephemeral port it has just released to the next bind to port 0 or outgoing connection,
/// and once did so to the agent's own HTTP listener in the moment between a test choosing a
/// Redis port and redis-server binding it (redis-server then failed with "Address already in
/// use" five times and the supervisor gave up). Below the range only a caller of this class hands
/// a port out, and each port is given to one caller per test run, so two tests running side by
/// side never start servers on the same port either. Each test process starts at a random place
/// in the range, and a port is checked free by binding it before it is given. A port a server
/// derives from its own (a Redis Cluster node's bus port is its port + 10,000 by default) is not
/// reserved: such a server is given that port explicitly (<c>--cluster-port</c>).
/// </remarks>
public static class LoopbackPorts
{
    private const int Lowest = 10000;
    private static readonly int Highest = EphemeralLow() - 1;
    private static readonly object Gate = new();
    private static readonly HashSet<int> Given = [];
    private static readonly HashSet<int> GivenUdp = [];
    private static int _next = Lowest + Random.Shared.Next(Highest - Lowest + 1);

    /// <summary>A free TCP port on <paramref name="address"/> (loopback by default), given to one caller per test run.</summary>
    public static int Free(IPAddress? address = null) => Take(Given, SocketType.Stream, ProtocolType.Tcp, address ?? IPAddress.Loopback);

    /// <summary>A free UDP port on loopback (a syslog receiver's), given to one caller per test run like <see cref="Free"/>.</summary>
    public static int FreeUdp() => Take(GivenUdp, SocketType.Dgram, ProtocolType.Udp, IPAddress.Loopback);

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

    private static int Take(HashSet<int> given, SocketType type, ProtocolType protocol, IPAddress address)
    {
        var span = Highest - Lowest + 1;
        lock (Gate)
        {
            for (var tried = 0; tried < span; tried++)
            {
                var port = _next;
                _next = port == Highest ? Lowest : port + 1;
                if (given.Contains(port) || !Bindable(type, protocol, address, port))
                {
                    continue;
                }

                given.Add(port);
                return port;
            }
        }

        throw new InvalidOperationException($"No free port left on {address} from {Lowest} to {Highest} (below the kernel's ephemeral range).");
    }

    private static bool Bindable(SocketType type, ProtocolType protocol, IPAddress address, int port)
    {
        try
        {
            using var socket = new Socket(type, protocol);
            socket.Bind(new IPEndPoint(address, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The first port of the kernel's ephemeral range (32768 when it cannot be read).</summary>
    private static int EphemeralLow()
    {
        try
        {
            var fields = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            var low = int.Parse(fields[0], CultureInfo.InvariantCulture);
            return low > Lowest + 1000 ? low : 32768;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32768;
        }
    }
}
