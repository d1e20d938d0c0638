using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RedisAgent.Testing;

/// <summary>
/// A minimal RESP2 client for tests: one connection, one command at a time, replies as text.
/// Tests use it to act on a server (DEBUG SLEEP, a blocking script, INFO) without a client
/// library's reconnect and timeout logic in the way.
/// </summary>
public sealed class RespClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly BufferedStream _reader;

    private RespClient(Socket socket, Stream stream)
    {
        _socket = socket;
        _stream = stream;
        _reader = new BufferedStream(_stream);
    }

    /// <summary>Connects (over TLS when <paramref name="caFile"/> is given: the server's certificate must chain to that CA), and logs in with <paramref name="password"/>.</summary>
    public static async Task<RespClient> ConnectAsync(string host, int port, string? password = null, string? caFile = null)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Parse(host), port).ConfigureAwait(false);
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        if (caFile is not null)
        {
            var roots = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
            roots.ImportFromPemFile(caFile);
            var tls = new System.Net.Security.SslStream(stream, leaveInnerStreamOpen: false, (_, certificate, _, _) =>
            {
                using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
                chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
                return certificate is not null && chain.Build(new System.Security.Cryptography.X509Certificates.X509Certificate2(certificate));
            });
            await tls.AuthenticateAsClientAsync(host).ConfigureAwait(false);
            stream = tls;
        }

        var client = new RespClient(socket, stream);
        if (password is not null)
        {
            await client.CommandAsync("AUTH", password).ConfigureAwait(false);
        }

        return client;
    }

    /// <summary>Sends a command and reads its reply; errors come back as "-ERR ..." text, not exceptions.</summary>
    public async Task<string> CommandAsync(params string[] parts)
    {
        await SendAsync(parts).ConfigureAwait(false);
        return await ReadReplyAsync().ConfigureAwait(false);
    }

    /// <summary>Sends a command without waiting for its reply (for commands that block the server).</summary>
    public async Task SendAsync(params string[] parts)
    {
        var builder = new StringBuilder();
        builder.Append('*').Append(parts.Length).Append("\r\n");
        foreach (var part in parts)
        {
            builder.Append('$').Append(Encoding.UTF8.GetByteCount(part)).Append("\r\n").Append(part).Append("\r\n");
        }

        await _stream.WriteAsync(Encoding.UTF8.GetBytes(builder.ToString())).ConfigureAwait(false);
    }

    public async Task<string> ReadReplyAsync()
    {
        var line = await ReadLineAsync().ConfigureAwait(false);
        switch (line[0])
        {
            case '+':
            case ':':
                return line[1..];
            case '-':
                return line;
            case '$':
                var length = int.Parse(line.AsSpan(1), CultureInfo.InvariantCulture);
                if (length < 0)
                {
                    return "(nil)";
                }

                var buffer = new byte[length + 2];
                await _reader.ReadExactlyAsync(buffer).ConfigureAwait(false);
                return Encoding.UTF8.GetString(buffer, 0, length);
            case '*':
                var count = int.Parse(line.AsSpan(1), CultureInfo.InvariantCulture);
                var items = new List<string>();
                for (var i = 0; i < count; i++)
                {
                    items.Add(await ReadReplyAsync().ConfigureAwait(false));
                }

                return string.Join('\n', items);
            default:
                throw new InvalidDataException("Unexpected RESP reply: " + line);
        }
    }

    /// <summary>INFO as a dictionary.</summary>
    public async Task<Dictionary<string, string>> InfoAsync(string section = "all")
    {
        var text = await CommandAsync("INFO", section).ConfigureAwait(false);
        return text.Split('\n')
            .Select(l => l.TrimEnd('\r'))
            .Where(l => l.Length > 0 && l[0] != '#' && l.Contains(':', StringComparison.Ordinal))
            .Select(l => l.Split(':', 2))
            .ToDictionary(p => p[0], p => p[1]);
    }

    public async ValueTask DisposeAsync()
    {
        // The socket first: a read still pending on a silent (DROPped) server is aborted rather than
        // waited for, which disposing the buffered stream first would do.
        _socket.Dispose();
        try
        {
            await _reader.DisposeAsync().ConfigureAwait(false);
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
        }
    }

    private async Task<string> ReadLineAsync()
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            if (await _reader.ReadAsync(one).ConfigureAwait(false) == 0)
            {
                throw new EndOfStreamException("The server closed the connection.");
            }

            if (one[0] == '\n' && bytes.Count > 0 && bytes[^1] == '\r')
            {
                return Encoding.UTF8.GetString(bytes.ToArray(), 0, bytes.Count - 1);
            }

            bytes.Add(one[0]);
        }
    }
}

/// <summary>One-shot helpers over <see cref="RespClient"/>.</summary>
public static class Resp
{
    public static async Task<string> CommandAsync(string host, int port, params string[] parts)
    {
        var client = await RespClient.ConnectAsync(host, port).ConfigureAwait(false);
        await using (client.ConfigureAwait(false))
        {
            return await client.CommandAsync(parts).ConfigureAwait(false);
        }
    }

    /// <summary>True when the server answers PING with PONG right now.</summary>
    public static async Task<bool> PingsAsync(string host, int port, string? password = null, string? caFile = null)
    {
        try
        {
            var client = await RespClient.ConnectAsync(host, port, password, caFile).ConfigureAwait(false);
            await using (client.ConfigureAwait(false))
            {
                var reply = await client.CommandAsync("PING").WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                return reply == "PONG";
            }
        }
        catch (Exception ex) when (ex is SocketException or IOException or TimeoutException or System.Security.Authentication.AuthenticationException)
        {
            return false;
        }
    }

    public static async Task<int> ProcessIdAsync(string host, int port, string? password = null, string? caFile = null)
    {
        var client = await RespClient.ConnectAsync(host, port, password, caFile).ConfigureAwait(false);
        await using (client.ConfigureAwait(false))
        {
            var info = await client.InfoAsync("server").ConfigureAwait(false);
            return int.Parse(info["process_id"], CultureInfo.InvariantCulture);
        }
    }
}
