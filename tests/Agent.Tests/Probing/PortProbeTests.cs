using System.Net;
using System.Net.Sockets;
using System.Text;
using RedisAgent.Connection;
using RedisAgent.Probing;
using RedisAgent.Testing;
using RedisAgent.Node;

namespace RedisAgent.Tests.Probing;

/// <summary>The probe against scripted TCP peers (protocol cases) and a real redis-server.</summary>
public sealed class PortProbeTests
{
    /// <summary>Short, for the cases about the timeout itself.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(300);

    /// <summary>Generous, for the cases about what a reply means: a busy test machine must not turn them into hangs.</summary>
    private static readonly TimeSpan Patient = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Probe_real_Redis_is_pong()
    {
        await using var redis = await RedisServer.StartAsync();

        var result = await Probe(redis.Url);

        Assert.Equal(PortProbeOutcome.Pong, result.Outcome);
        Assert.True(result.Latency < TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Probe_real_Redis_with_password_authenticates_and_is_pong()
    {
        await using var redis = await RedisServer.StartAsync(new RedisServerOptions { Password = "c0rrect horse" });

        Assert.Equal(PortProbeOutcome.Pong, (await Probe(redis.Url)).Outcome);
        Assert.Equal(PortProbeOutcome.AuthFailed, (await Probe($"redis://:wrong@127.0.0.1:{redis.Port}")).Outcome);
        Assert.Equal(PortProbeOutcome.AuthFailed, (await Probe($"redis://127.0.0.1:{redis.Port}")).Outcome);
    }

    [Fact]
    public async Task Probe_closed_port_is_refused()
    {
        var port = LoopbackPorts.Free();

        Assert.Equal(PortProbeOutcome.Refused, (await Probe($"redis://127.0.0.1:{port}")).Outcome);
    }

    [Fact]
    public async Task Probe_peer_that_never_answers_is_hung_after_the_timeout()
    {
        await using var peer = ScriptedPeer.Start(async (_, _, token) => await Task.Delay(System.Threading.Timeout.Infinite, token));

        var result = await Probe(peer.Url, Timeout);

        Assert.Equal(PortProbeOutcome.Hung, result.Outcome);
        // Timers may fire a few milliseconds early; the bound is about "waited for the timeout", not precision.
        Assert.InRange(result.Latency, Timeout - TimeSpan.FromMilliseconds(50), Timeout + TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task Probe_peer_that_closes_at_once_is_reset()
    {
        await using var peer = ScriptedPeer.Start((socket, _, _) =>
        {
            socket.Close();
            return Task.CompletedTask;
        });

        Assert.Equal(PortProbeOutcome.Reset, (await Probe(peer.Url)).Outcome);
    }

    [Fact]
    public async Task Probe_loading_server_is_busy()
    {
        await using var peer = ScriptedPeer.Reply("-LOADING Redis is loading the dataset in memory\r\n");

        var result = await Probe(peer.Url);

        Assert.Equal(PortProbeOutcome.Busy, result.Outcome);
        Assert.StartsWith("-LOADING", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Probe_with_user_and_password_sends_auth_then_ping()
    {
        await using var peer = ScriptedPeer.Reply("+OK\r\n+PONG\r\n");

        var result = await Probe($"redis://alice:s3cret@127.0.0.1:{peer.Port}");

        Assert.Equal(PortProbeOutcome.Pong, result.Outcome);
        Assert.Equal("*3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$6\r\ns3cret\r\n*1\r\n$4\r\nPING\r\n", peer.Received);
    }

    [Fact]
    public async Task Probe_auth_rejected_is_auth_failed_and_detail_holds_no_secret()
    {
        await using var peer = ScriptedPeer.Reply("-WRONGPASS invalid username-password pair or user is disabled.\r\n-NOAUTH Authentication required.\r\n");

        var result = await Probe($"redis://alice:s3cret@127.0.0.1:{peer.Port}");

        Assert.Equal(PortProbeOutcome.AuthFailed, result.Outcome);
        Assert.DoesNotContain("s3cret", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Probe_endless_reply_line_is_capped_not_buffered()
    {
        await using var peer = ScriptedPeer.Reply("+" + new string('x', 100_000));

        var result = await Probe(peer.Url);

        Assert.Equal(PortProbeOutcome.OtherReply, result.Outcome);
        Assert.True(result.Detail!.Length <= 100);
    }

    private static Task<PortProbeResult> Probe(string url, TimeSpan? timeout = null) =>
        new PortProbe(RedisEndpoint.Parse(url), timeout ?? Patient, TimeProvider.System).ProbeAsync(CancellationToken.None);

    /// <summary>A TCP peer on loopback that runs a script for each connection.</summary>
    private sealed class ScriptedPeer : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private readonly StringBuilder _received = new();
        private readonly Task _loop;

        private ScriptedPeer(Func<Socket, ScriptedPeer, CancellationToken, Task> script)
        {
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    Socket socket;
                    try
                    {
                        socket = await _listener.AcceptSocketAsync(_stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }

                    _ = Task.Run(async () =>
                    {
                        using (socket)
                        {
                            try
                            {
                                await script(socket, this, _stop.Token);
                            }
                            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                            {
                            }
                        }
                    });
                }
            });
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public string Url => $"redis://127.0.0.1:{Port}";

        public string Received
        {
            get
            {
                lock (_received)
                {
                    return _received.ToString();
                }
            }
        }

        public static ScriptedPeer Start(Func<Socket, ScriptedPeer, CancellationToken, Task> script) => new(script);

        /// <summary>Reads the request (until it ends with PING), then sends <paramref name="reply"/>.</summary>
        public static ScriptedPeer Reply(string reply) => new(async (socket, self, token) =>
        {
            var buffer = new byte[4096];
            while (!self.Received.EndsWith("PING\r\n", StringComparison.Ordinal))
            {
                var read = await socket.ReceiveAsync(buffer, token);
                if (read == 0)
                {
                    return;
                }

                lock (self._received)
                {
                    self._received.Append(Encoding.UTF8.GetString(buffer, 0, read));
                }
            }

            await socket.SendAsync(Encoding.UTF8.GetBytes(reply), token);
            await Task.Delay(System.Threading.Timeout.Infinite, token);
        });

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _loop;
            _stop.Dispose();
        }
    }
}
