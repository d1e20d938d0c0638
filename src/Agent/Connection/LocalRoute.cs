using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RedisAgent.Connection;

/// <summary>
/// A way to the node that no partition of the host's network can cut: its unix socket, or its
/// loopback port. The self-fence goes this way as well as over the agent's connection (whose
/// address a host firewall, or a test's partition, can cut: with <c>REDIS_URL</c> on the host's
/// own address the fence once timed out until the heal, and 479 writes were lost).
/// </summary>
/// <param name="UnixSocket">The socket's path (CONFIG GET unixsocket), or null.</param>
/// <param name="LoopbackPort">The port on 127.0.0.1 when Redis binds it and the agent's URL is not already loopback, or null.</param>
internal sealed record LocalRoute(string? UnixSocket, int? LoopbackPort)
{
    /// <summary>
    /// The route the node's own settings offer: its unix socket, else 127.0.0.1 when it binds it (or
    /// every address) and the agent reaches it elsewhere without TLS; null when there is none.
    /// </summary>
    public static LocalRoute? From(RedisEndpoint endpoint, string? unixSocket, string? bind)
    {
        if (!string.IsNullOrWhiteSpace(unixSocket))
        {
            return new LocalRoute(unixSocket.Trim(), null);
        }

        // 127.0.0.1 itself, not the rest of 127.0.0.0/8: a loopback alias can be cut like any address.
        var loopbackAlready = IPAddress.TryParse(endpoint.Host, out var address)
            ? address.Equals(IPAddress.Loopback) || address.Equals(IPAddress.IPv6Loopback)
            : endpoint.Host == "localhost";
        var binds = (bind ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(b => b.TrimStart('-'));
        return !endpoint.Tls && !loopbackAlready && binds.Any(b => b is "127.0.0.1" or "*" or "0.0.0.0" or "localhost")
            ? new LocalRoute(null, endpoint.Port)
            : null;
    }

    public override string ToString() => UnixSocket is { } path ? "unix:" + path : $"127.0.0.1:{LoopbackPort}";

    /// <summary>Sends one command (after AUTH with the agent's credentials) and returns its one-line reply; a Redis error throws.</summary>
    public async Task<string> CommandAsync(RedisEndpoint credentials, string[] command, TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        using var socket = UnixSocket is not null
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        EndPoint target = UnixSocket is { } path ? new UnixDomainSocketEndPoint(path) : new IPEndPoint(IPAddress.Loopback, LoopbackPort!.Value);
        await socket.ConnectAsync(target, deadline.Token).ConfigureAwait(false);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        if (credentials.Password is { } password)
        {
            await SendAsync(stream, credentials.User is { } user ? ["AUTH", user, password] : ["AUTH", password], deadline.Token).ConfigureAwait(false);
        }

        return await SendAsync(stream, command, deadline.Token).ConfigureAwait(false);
    }

    private static async Task<string> SendAsync(NetworkStream stream, string[] command, CancellationToken cancellationToken)
    {
        var request = new StringBuilder().Append(CultureInfo.InvariantCulture, $"*{command.Length}\r\n");
        foreach (var part in command)
        {
            request.Append(CultureInfo.InvariantCulture, $"${Encoding.UTF8.GetByteCount(part)}\r\n{part}\r\n");
        }

        await stream.WriteAsync(Encoding.UTF8.GetBytes(request.ToString()), cancellationToken).ConfigureAwait(false);
        // One line: +OK or -ERR...; a reply longer than this is not one a fence gets.
        var line = new List<byte>();
        var one = new byte[1];
        while (line.Count < 512)
        {
            if (await stream.ReadAsync(one, cancellationToken).ConfigureAwait(false) == 0)
            {
                throw new IOException("the server closed the connection");
            }

            if (one[0] == '\n' && line.Count > 0 && line[^1] == '\r')
            {
                var reply = Encoding.UTF8.GetString([.. line], 0, line.Count - 1);
                return reply.StartsWith('-') ? throw new InvalidOperationException(reply[1..]) : reply;
            }

            line.Add(one[0]);
        }

        throw new IOException("the reply line is too long");
    }
}
