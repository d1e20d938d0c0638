using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Reliability;

/// <summary>
/// Idle connections to the agent's HTTP port, more than its open-file limit: the agent holds at most
/// what the limit leaves room for, refuses the rest (one line a minute, a counter), and its probe of
/// Redis never goes without a descriptor. Before, 600 idle connections under a 512-file limit left
/// the probe failing to open a socket every second, blind to Redis, until they went.
/// </summary>
[Collection(nameof(TailStormTests))]
public sealed partial class ConnectionFloodTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Six_hundred_idle_connections_under_a_512_file_limit_never_take_the_probes_descriptors()
    {
        using var state = new TempDirectory("flood");
        var port = LoopbackPorts.Free();
        var httpPort = LoopbackPorts.Free();
        var url = $"http://127.0.0.1:{httpPort}";
        await using var agent = AgentProcess.StartBinary("prlimit", new Dictionary<string, string>
        {
            ["REDIS_URL"] = $"redis://127.0.0.1:{port}",
            ["Urls"] = url,
            ["Agent__StateDirectory"] = state.Path,
            ["Exec__InstallIfMissing"] = "false",
            // All from one address: the bound per client lifted, so that the one in all is what is tried.
            ["Http__MaxConnectionsPerClient"] = "1000",
        }, "--nofile=512:512", AgentProcess.BinaryPath);
        await agent.WaitForOutputAsync("is Healthy (was Unknown)", Deadline);
        Assert.Contains("the HTTP endpoints hold at most 256 connections", agent.Output, StringComparison.Ordinal);
        await using var redis = await RespClient.ConnectAsync("127.0.0.1", port);

        var flood = new List<Socket>();
        try
        {
            for (var i = 0; i < 600; i++)
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                flood.Add(socket);
                await socket.ConnectAsync("127.0.0.1", httpPort);
            }

            await agent.WaitForOutputAsync("HTTP connection(s) refused since the last such line (at most one a minute): the most the endpoints hold open are open", Deadline);
            // The probe connects to Redis once a second: new connections reaching Redis while the flood
            // holds every connection the endpoints may have are the probe's.
            var before = await ConnectionsReceivedAsync(redis);
            await Poll.UntilAsync(
                async () => await ConnectionsReceivedAsync(redis) >= before + 3,
                Deadline,
                () => $"the agent's probe stopped connecting to Redis under the flood. Output:\n{agent.Output}");
            Assert.All(flood, s => Assert.True(s.Connected));
        }
        finally
        {
            flood.ForEach(s => s.Dispose());
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        string metrics = "";
        await Poll.UntilAsync(
            async () =>
            {
                try
                {
                    metrics = await http.GetStringAsync($"{url}/metrics");
                    return true;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            Deadline,
            () => $"/metrics did not answer once the flood went. Output:\n{agent.Output}");
        var refused = double.Parse(Refused().Match(metrics).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(refused >= 1, $"no refused connection counted:\n{metrics}");
        Assert.DoesNotContain("probe loop failed", agent.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("rejected because the maximum number of concurrent connections", agent.Output, StringComparison.Ordinal);
        Assert.True(Regex.Count(agent.Output, "HTTP connection\\(s\\) refused") <= 2, "the refusals are said once a minute, not once a connection");
        Assert.DoesNotContain("ProcessDown", agent.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// One address holding idle connections takes at most Http:MaxConnectionsPerClient of them: its
    /// next is closed as it comes, and another client's health check is still answered though the
    /// flood is larger than Http:MaxConnections. Before, the flood took every connection the endpoints
    /// could hold, and a router's check of /primary from anywhere else was refused until it went.
    /// </summary>
    [Fact]
    public async Task One_client_holding_idle_connections_cannot_take_another_client_s_health_check()
    {
        using var state = new TempDirectory("flood-one");
        var httpPort = LoopbackPorts.Free();
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["REDIS_URL"] = $"redis://127.0.0.1:{LoopbackPorts.Free()}",
            ["Urls"] = $"http://127.0.0.1:{httpPort}",
            ["Agent__StateDirectory"] = state.Path,
            ["Restart__Driver"] = "none",
            ["Http__MaxConnections"] = "40",
            ["Http__MaxConnectionsPerClient"] = "10",
        });
        await agent.WaitForOutputAsync("Application started", Deadline);

        var flood = new List<Socket>();
        try
        {
            // 60 from 127.0.0.2, more than the endpoints hold in all: each sends nothing, so each stays
            // open until Http:IdleTimeout (15 s) unless the agent closes it as it comes.
            for (var i = 0; i < 60; i++)
            {
                flood.Add(await ConnectFromAsync(IPAddress.Parse("127.0.0.2"), httpPort));
            }

            await agent.WaitForOutputAsync("because their client held Http:MaxConnectionsPerClient open already, the last from 127.0.0.2", Deadline);
            var closed = 0;
            foreach (var socket in flood)
            {
                closed += await ClosedByPeerAsync(socket) ? 1 : 0;
            }

            Assert.Equal(50, closed);
            // Another client is answered while the ten held are still open.
            Assert.Contains("200 OK", await GetFromAsync(IPAddress.Parse("127.0.0.3"), httpPort, "/healthz"), StringComparison.Ordinal);
            Assert.Contains("200 OK", await GetFromAsync(IPAddress.Parse("127.0.0.3"), httpPort, "/metrics"), StringComparison.Ordinal);
            var metrics = await GetFromAsync(IPAddress.Parse("127.0.0.3"), httpPort, "/metrics");
            Assert.True(double.Parse(Refused().Match(metrics).Groups[1].Value, CultureInfo.InvariantCulture) >= 50, metrics);
        }
        finally
        {
            flood.ForEach(s => s.Dispose());
        }

        Assert.Equal(1, Regex.Count(agent.Output, "because their client held"));
        Assert.DoesNotContain("rejected because the maximum number of concurrent connections", agent.Output, StringComparison.Ordinal);
    }

    private static async Task<Socket> ConnectFromAsync(IPAddress source, int port)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(source, 0));
        await socket.ConnectAsync(IPAddress.Loopback, port);
        return socket;
    }

    /// <summary>True once the agent has closed the connection (a read of 0 bytes, or a reset), false if it is still open after a second.</summary>
    private static async Task<bool> ClosedByPeerAsync(Socket socket)
    {
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            return await socket.ReceiveAsync(new byte[1], SocketFlags.None, wait.Token) == 0;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    private static async Task<string> GetFromAsync(IPAddress source, int port, string path)
    {
        using var socket = await ConnectFromAsync(source, port);
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"), SocketFlags.None);
        using var stream = new NetworkStream(socket);
        using var reader = new StreamReader(stream);
        using var timeout = new CancellationTokenSource(Deadline);
        return await reader.ReadToEndAsync(timeout.Token);
    }

    /// <summary>A NativeAOT binary starts at the soft limit (.NET's JIT runtime raises it): the agent raises it itself.</summary>
    [Fact]
    public async Task The_agent_raises_its_open_file_limit_to_the_hard_limit()
    {
        using var state = new TempDirectory("nofile");
        await using var agent = AgentProcess.StartBinary("prlimit", new Dictionary<string, string>
        {
            ["REDIS_URL"] = $"redis://127.0.0.1:{LoopbackPorts.Free()}",
            ["Agent__StateDirectory"] = state.Path,
            ["Restart__Driver"] = "none",
        }, "--nofile=400:4096", AgentProcess.BinaryPath);
        await agent.WaitForOutputAsync("Application started", Deadline);

        var line = File.ReadLines($"/proc/{agent.ProcessId}/limits").First(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        Assert.Equal(["4096", "4096"], line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(2));
    }

    private static async Task<long> ConnectionsReceivedAsync(RespClient redis) =>
        long.Parse((await redis.InfoAsync("stats"))["total_connections_received"], CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^redis_agent_http_connections_refused_total (\S+)$", RegexOptions.Multiline)]
    private static partial Regex Refused();
}
