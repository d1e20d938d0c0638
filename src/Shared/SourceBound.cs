using System.Net;
using System.Net.Sockets;

namespace RedisShared.Hosting;

/// <summary>Outgoing HTTP connections that leave from a chosen local address (a host with several, or a test's alias).</summary>
internal static class SourceBound
{
    /// <summary>A <see cref="SocketsHttpHandler.ConnectCallback"/> that binds each socket to <paramref name="source"/> before it connects.</summary>
    public static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> From(IPAddress source) =>
        async (context, cancellationToken) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(source, 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        };
}
