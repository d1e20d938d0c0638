using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// A node named only by the coordinator (added at run time, <c>nodes add</c>) is watched by every
/// agent of the resource; over plain text it is probed without the resource's password, so an
/// address typed into <c>nodes add</c> (or a coordinator's list) cannot collect it. The "node" here
/// is a listener that records every byte it is sent and asks for a password, as Redis would.
/// </summary>
public sealed class LearnedPeerTests
{
    [Fact]
    public async Task A_node_named_by_the_coordinator_is_watched_without_the_password_over_plain_text()
    {
        const string password = "learned-peer-s3cret";
        await using var redis = await RedisServer.StartAsync(new RedisServerOptions { Password = password });
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var received = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var serving = ServeAsync(listener, received, stop.Token);

        await using var coordinator = await FailoverUnderTest.StartAsync("cache", [("n1", $"127.0.0.1:{redis.Port}"), ("n2", $"127.0.0.1:{port}")]);
        await using var agent = await AgentUnderTest.StartAsync(new Dictionary<string, string?>
        {
            ["Redis:Url"] = redis.Url,
            ["Agent:NodeName"] = "n1",
            ["Restart:Driver"] = "none",
            ["Coordinator:Url"] = coordinator.Url,
            ["Coordinator:Token"] = FailoverUnderTest.Token,
            ["Coordinator:Resource"] = "cache",
            ["Coordinator:ReportInterval"] = "00:00:00.250",
        });

        // Watched (no Peers configured), and what it answered counts as alive.
        await Poll.UntilAsync(() => received.Count(r => r.Contains("PING", StringComparison.Ordinal)) >= 3, TimeSpan.FromSeconds(20), () => agent.Logs.Text);
        await Poll.UntilAsync(() => coordinator.Coordinator["cache"]!.Read(m => m.Nodes.First(n => n.Spec.Name == "n1").Report?.Observations
                .Any(o => o.Target == "n2" && o.Verdict == RedisFailover.Protos.Verdict.Misconfigured) ?? false),
            TimeSpan.FromSeconds(20), () => coordinator.Describe());
        Assert.Contains($"Watching n2 at 127.0.0.1:{port}, which the coordinator names as a node of the resource", agent.Logs.Text, StringComparison.Ordinal);
        Assert.Contains("n2 answers, asking for credentials", agent.Logs.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("The agent cannot use n2", agent.Logs.Text, StringComparison.Ordinal);

        // Never the password, nor AUTH at all.
        var all = string.Concat(received);
        Assert.DoesNotContain(password, all, StringComparison.Ordinal);
        Assert.DoesNotContain("AUTH", all, StringComparison.OrdinalIgnoreCase);

        await stop.CancelAsync();
        listener.Stop();
        await serving;
    }

    /// <summary>Accepts connections, keeps what each sends, and answers every read as a password-protected Redis would.</summary>
    private static async Task ServeAsync(TcpListener listener, ConcurrentQueue<string> received, CancellationToken stop)
    {
        var clients = new List<Task>();
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var client = await listener.AcceptTcpClientAsync(stop);
                clients.Add(Task.Run(async () =>
                {
                    using (client)
                    {
                        var stream = client.GetStream();
                        var buffer = new byte[4096];
                        try
                        {
                            int read;
                            while ((read = await stream.ReadAsync(buffer, stop)) > 0)
                            {
                                received.Enqueue(Encoding.UTF8.GetString(buffer, 0, read));
                                await stream.WriteAsync("-NOAUTH Authentication required.\r\n"u8.ToArray(), stop);
                            }
                        }
                        catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException)
                        {
                        }
                    }
                }, CancellationToken.None));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        await Task.WhenAll(clients);
    }
}
