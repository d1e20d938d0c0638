using System.Net;
using System.Net.Sockets;

namespace RedisAgent.Testing.Hosts;

/// <summary>
/// Another process's hold on a node's address: a listener bound to it the moment it is free (a
/// killed redis-server's port), which accepts nothing. Every restart of Redis there then fails
/// with "Address already in use", and a client's connection is queued and never answered.
/// </summary>
public static class PortSquatter
{
    public static async Task<TcpListener> TakeAsync(string address, int port, TimeSpan within)
    {
        var squatter = new TcpListener(IPAddress.Parse(address), port);
        try
        {
            await Poll.UntilAsync(() =>
            {
                try
                {
                    squatter.Start();
                    return true;
                }
                catch (SocketException)
                {
                    return false;
                }
            }, within, () => $"{address}:{port}, freed, taken").ConfigureAwait(false);
            return squatter;
        }
        catch
        {
            squatter.Dispose();
            throw;
        }
    }
}
