using Microsoft.Extensions.DependencyInjection;
using System.Net.Sockets;
using System.Text;
using RedisAgent.Testing;
using RedisFailover.Protos;

namespace RedisAgent.Tests.Failover;

/// <summary>The Sentinel endpoint against clumsy and hostile clients: each gets Redis's own error, and the coordinator goes on.</summary>
public sealed class SentinelEndpointHardeningTests : IAsyncLifetime
{
    private const string Password = "sentinel-password-0123";
    private readonly TempDirectory _files = new("sentinel-hardening");
    private FailoverUnderTest _coordinator = null!;
    private int _port;

    public async Task InitializeAsync()
    {
        File.WriteAllText(_files.File("password"), Password + "\n");
        _port = LoopbackPorts.Free();
        _coordinator = await FailoverUnderTest.StartAsync("cache", [("n1", "127.0.0.1:1"), ("n2", "127.0.0.1:2")], new Dictionary<string, string?>
        {
            ["Sentinel:Urls"] = $"127.0.0.1:{_port}",
            ["Sentinel:PasswordFile"] = _files.File("password"),
            ["Sentinel:MaxConnections"] = "20",
        });
    }

    public async Task DisposeAsync()
    {
        await _coordinator.DisposeAsync();
        _files.Dispose();
    }

    [Fact]
    public async Task Without_the_password_only_auth_is_answered_and_a_wrong_one_is_refused()
    {
        await using var client = await RespClient.ConnectAsync("127.0.0.1", _port);

        Assert.Equal("-NOAUTH Authentication required.", await client.CommandAsync("SENTINEL", "get-master-addr-by-name", "cache"));
        Assert.Equal("-WRONGPASS invalid username-password pair or user is disabled.", await client.CommandAsync("AUTH", "wrong"));
        Assert.Equal("OK", await client.CommandAsync("AUTH", Password));
        Assert.Equal("", await client.CommandAsync("SENTINEL", "get-master-addr-by-name", "cache"));
        Assert.StartsWith("-ERR unknown command 'CONFIG', with args beginning with: 'GET' 'save'", await client.CommandAsync("CONFIG", "GET", "save"), StringComparison.Ordinal);
        Assert.Equal("-ERR No such master with that name", await client.CommandAsync("SENTINEL", "master", "nope"));
    }

    [Fact]
    public async Task Hello_3_authenticates_and_answers_in_RESP3()
    {
        var reply = await RawAsync($"*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n${Password.Length}\r\n{Password}\r\n");

        Assert.StartsWith("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n", reply, StringComparison.Ordinal);
        Assert.Contains("$4\r\nmode\r\n$8\r\nsentinel\r\n", reply, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("*abc\r\n", "-ERR Protocol error: invalid multibulk length")]
    [InlineData("*1\r\n$999999999\r\n", "-ERR Protocol error: invalid bulk length")]
    [InlineData("*100000\r\n", "-ERR Protocol error: invalid multibulk length")]
    [InlineData("*1\r\n:5\r\n", "-ERR Protocol error: expected '$', got ':'")]
    public async Task A_protocol_error_is_answered_and_the_connection_closed_and_the_coordinator_goes_on(string garbage, string expected)
    {
        var reply = await RawAsync(garbage);

        Assert.Equal(expected + "\r\n", reply);
        var status = await new Admin.AdminClient(Grpc.Net.Client.GrpcChannel.ForAddress(_coordinator.Url)).GetStatusAsync(new ResourceRequest { Resource = "cache" }, _coordinator.Headers);
        Assert.Equal("cache", status.Resource);
    }

    [Fact]
    public async Task One_client_past_the_bound_is_told_and_closed_and_the_others_are_served()
    {
        var held = new List<RespClient>();
        try
        {
            for (var i = 0; i < 20; i++)
            {
                var client = await RespClient.ConnectAsync("127.0.0.1", _port);
                held.Add(client);
                Assert.Equal("OK", await client.CommandAsync("AUTH", Password));
            }

            Assert.Equal("-ERR max number of clients reached\r\n", await RawAsync(""));
            Assert.Equal("PONG", await held[0].CommandAsync("PING"));
        }
        finally
        {
            foreach (var client in held)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_subscriber_that_never_reads_is_closed_and_holds_no_one_else_back()
    {
        using var stalled = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await stalled.ConnectAsync("127.0.0.1", _port);
        await stalled.SendAsync(Encoding.UTF8.GetBytes($"AUTH {Password}\r\nSUBSCRIBE +switch-master\r\n"), SocketFlags.None);
        await using var reader = await RespClient.ConnectAsync("127.0.0.1", _port, Password);
        Assert.Equal("subscribe\n+switch-master\n1", await reader.CommandAsync("SUBSCRIBE", "+switch-master"));
        var server = _coordinator.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<RedisFailover.Sentinel.SentinelServer>().Single();
        var payload = new string('x', 64 * 1024);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var publishing = Task.Run(async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                await server.PublishAsync("+switch-master", payload, CancellationToken.None);
            }
        });
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal("message\n+switch-master\n" + payload, await reader.ReadReplyAsync().WaitAsync(TimeSpan.FromSeconds(20)));
        }

        await publishing.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"100 events took {clock.Elapsed.TotalSeconds:0.0} s behind a stalled subscriber");
    }

    /// <summary>
    /// Any pattern is a glob, never a regular expression: an unclosed class or a pattern built to
    /// backtrack neither throws out of the publisher (which would stop the endpoint for everyone) nor
    /// stalls it, and a pattern that matches gets the event.
    /// </summary>
    [Fact]
    public async Task Hostile_patterns_neither_break_nor_stall_the_events()
    {
        await using var hostile = await RespClient.ConnectAsync("127.0.0.1", _port, Password);
        var backtracking = string.Concat(Enumerable.Repeat("*a", 2000)) + "b";
        foreach (var pattern in new[] { "[", "[^", "\\", "[z-a", backtracking, "+switch-*[m-n]aster" })
        {
            Assert.StartsWith("psubscribe\n" + pattern + "\n", await hostile.CommandAsync("PSUBSCRIBE", pattern), StringComparison.Ordinal);
        }

        await using var plain = await RespClient.ConnectAsync("127.0.0.1", _port, Password);
        Assert.Equal("subscribe\n+switch-master\n1", await plain.CommandAsync("SUBSCRIBE", "+switch-master"));
        var server = _coordinator.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<RedisFailover.Sentinel.SentinelServer>().Single();

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await server.PublishAsync("+switch-master", "cache 127.0.0.1 1 127.0.0.1 2", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"publishing took {clock.Elapsed.TotalSeconds:0.00} s");
        Assert.Equal("message\n+switch-master\ncache 127.0.0.1 1 127.0.0.1 2", await plain.ReadReplyAsync().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal("pmessage\n+switch-*[m-n]aster\n+switch-master\ncache 127.0.0.1 1 127.0.0.1 2", await hostile.ReadReplyAsync().WaitAsync(TimeSpan.FromSeconds(5)));
        await using var next = await RespClient.ConnectAsync("127.0.0.1", _port, Password);
        Assert.Equal("PONG", await next.CommandAsync("PING"));
    }

    /// <summary>Sends <paramref name="bytes"/> and reads until the server closes or goes quiet for a second.</summary>
    private async Task<string> RawAsync(string bytes)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", _port);
        if (bytes.Length > 0)
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(bytes), SocketFlags.None);
        }

        var received = new StringBuilder();
        var buffer = new byte[4096];
        while (true)
        {
            var read = socket.ReceiveAsync(buffer, SocketFlags.None);
            if (await Task.WhenAny(read, Task.Delay(1000)) != read || await read == 0)
            {
                return received.ToString();
            }

            received.Append(Encoding.UTF8.GetString(buffer, 0, read.Result));
        }
    }
}
