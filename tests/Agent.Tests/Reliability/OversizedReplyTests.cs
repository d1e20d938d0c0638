using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Reliability;

/// <summary>
/// A server that speaks just enough RESP for a client to connect, and answers INFO with 50 MB:
/// the agent refuses the reply (never parses or keeps it), says so, asks again only after a
/// back-off, and stays small.
/// </summary>
public sealed class OversizedReplyTests
{
    [Fact]
    public async Task A_50_MB_INFO_reply_is_refused_reported_and_memory_stays_bounded()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var infos = 0;
        var server = ServeAsync(listener, () => Interlocked.Increment(ref infos), stop.Token);
        using var state = new TempDirectory("oversized");
        try
        {
            await using var agent = AgentProcess.Start(new Dictionary<string, string>
            {
                ["REDIS_URL"] = $"redis://127.0.0.1:{port}",
                ["Restart__Driver"] = "none",
                ["Agent__StateDirectory"] = state.Path,
            });

            await agent.WaitForOutputAsync("over Sampling:MaxReplyBytes (8388608): not parsed", TimeSpan.FromSeconds(60));
            // The client library's handshake asks INFO too, once per connection (and the 50 MB reply may
            // cost the connection): a few at the refusal. Within the 30 s back-off the reply is not asked
            // for again; one INFO a second would mean 50 MB a second.
            var asked = Volatile.Read(ref infos);
            Assert.True(asked <= 4, $"INFO asked {asked} times before the refusal");
            var atRefusal = ResidentMegabytes(agent.ProcessId);
            await Poll.HoldsAsync(() => Volatile.Read(ref infos) <= asked + 1, TimeSpan.FromSeconds(5),
                () => $"INFO asked {Volatile.Read(ref infos) - asked} more times within the back-off");
            // Bounded: the few 50 MB replies read before the refusal (the client library holds each whole,
            // raw and decoded) peak at 420-480 MB in the published binary, which the GC returns lazily;
            // what must not happen is growth, a reply a second (250 MB in the 5 s). So: a generous ceiling, and at most the one more reply the hold allows.
            var rss = ResidentMegabytes(agent.ProcessId);
            Assert.True(rss < 640, $"the agent holds {rss} MB after refusing a 50 MB reply");
            Assert.True(rss <= atRefusal + 150, $"the agent grew from {atRefusal} MB to {rss} MB within the back-off");
            Assert.False(agent.HasExited);
        }
        finally
        {
            await stop.CancelAsync();
            listener.Stop();
            await server.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    private static long ResidentMegabytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }

    /// <summary>Every connection gets its own reader; commands are answered in order, INFO with 50 MB.</summary>
    private static async Task ServeAsync(TcpListener listener, Action onInfo, CancellationToken cancellationToken)
    {
        var clients = new List<Task>();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var client = await listener.AcceptTcpClientAsync(cancellationToken);
                clients.Add(AnswerAsync(client, onInfo, cancellationToken));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }

        await Task.WhenAll(clients.Select(c => c.ContinueWith(_ => { }, TaskScheduler.Default)));
    }

    private static async Task AnswerAsync(TcpClient client, Action onInfo, CancellationToken cancellationToken)
    {
        using (client)
        {
            var stream = client.GetStream();
            var reader = new BufferedStream(stream);
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    var command = await ReadCommandAsync(reader, cancellationToken);
                    if (command is null)
                    {
                        return;
                    }

                    var name = command[0].ToUpperInvariant();
                    byte[] reply = name switch
                    {
                        "PING" => "+PONG\r\n"u8.ToArray(),
                        "ECHO" => [.. Encoding.ASCII.GetBytes($"${command[1].Length}\r\n"), .. Encoding.Latin1.GetBytes(command[1]), .. "\r\n"u8],
                        // The client's handshake asks for sections; the sampler asks for all of them.
                        "INFO" when command.Length > 1 && !command[1].Equals("all", StringComparison.OrdinalIgnoreCase) => Bulk("# Server\r\nredis_version:7.0.15\r\n"),
                        "INFO" => Huge(onInfo),
                        "CONFIG" => "*0\r\n"u8.ToArray(),
                        "SUBSCRIBE" => Encoding.ASCII.GetBytes($"*3\r\n$9\r\nsubscribe\r\n${command[1].Length}\r\n{command[1]}\r\n:1\r\n"),
                        "CLIENT" or "SELECT" => "+OK\r\n"u8.ToArray(),
                        _ => Encoding.ASCII.GetBytes($"-ERR unknown command '{name}'\r\n"),
                    };
                    await stream.WriteAsync(reply, cancellationToken);
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }

    private static byte[] Huge(Action onInfo)
    {
        onInfo();
        var body = new StringBuilder("# Server\r\nredis_version:7.0.15\r\n");
        while (body.Length < 50 * 1024 * 1024)
        {
            body.Append("padding_field:").Append('x', 1000).Append("\r\n");
        }

        return Encoding.ASCII.GetBytes($"${body.Length}\r\n{body}\r\n");
    }

    private static byte[] Bulk(string text) => Encoding.ASCII.GetBytes($"${text.Length}\r\n{text}\r\n");

    /// <summary>One command as a client sends it (an array of bulk strings, read by length: arguments may be binary).</summary>
    private static async Task<string[]?> ReadCommandAsync(BufferedStream reader, CancellationToken cancellationToken)
    {
        var header = await ReadLineAsync(reader, cancellationToken);
        if (header is null || header.Length < 2 || header[0] != '*')
        {
            return header is null ? null : [header];
        }

        var parts = new string[int.Parse(header.AsSpan(1), CultureInfo.InvariantCulture)];
        for (var i = 0; i < parts.Length; i++)
        {
            var length = int.Parse((await ReadLineAsync(reader, cancellationToken) ?? "$0").AsSpan(1), CultureInfo.InvariantCulture);
            var bytes = new byte[length + 2];
            await reader.ReadExactlyAsync(bytes, cancellationToken);
            parts[i] = Encoding.Latin1.GetString(bytes, 0, length);
        }

        return parts;
    }

    private static async Task<string?> ReadLineAsync(BufferedStream reader, CancellationToken cancellationToken)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (await reader.ReadAsync(one, cancellationToken) == 1)
        {
            if (one[0] == '\n')
            {
                return line.ToString().TrimEnd('\r');
            }

            line.Append((char)one[0]);
        }

        return null;
    }
}
