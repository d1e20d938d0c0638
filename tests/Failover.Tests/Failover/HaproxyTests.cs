using System.Globalization;
using System.Net;
using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;
using RedisAgent.Tests.HostProbing;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// Issue 15, the transparent endpoint: deploy/haproxy/haproxy.cfg, run by Debian's HAProxy in
/// front of the three hosts, with each agent's GET /primary and /replica as its health checks. A
/// writer that knows only HAProxy's address keeps writing through a host loss.
/// </summary>
[Collection(LoopbackHostsCollection.Name)]
public sealed class HaproxyTests(LoopbackHosts hosts, Xunit.Abstractions.ITestOutputHelper output) : ThreeHostResource(hosts)
{
    /// <summary>The agents serve HTTP on their host's address, where HAProxy checks them (and where a partition cuts them off).</summary>
    private protected override void ConfigureAgent(TestHost host, Dictionary<string, string?> settings) => settings["Urls"] = $"http://{host.Address}:0";

    [Fact]
    public async Task A_writer_through_haproxy_follows_a_host_loss_to_the_new_primary()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        Assert.Equal((HttpStatusCode.OK, "primary\n"), await CheckAsync(http, "host-1", "/primary"));
        Assert.Equal((HttpStatusCode.ServiceUnavailable, "not a primary: ROLE says slave\n"), await CheckAsync(http, "host-2", "/primary"));
        Assert.Equal((HttpStatusCode.OK, "replica\n"), await CheckAsync(http, "host-2", "/replica"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await CheckAsync(http, "host-1", "/replica")).Status);

        using var directory = new TempDirectory("haproxy");
        await using var haproxy = Haproxy.Start(await File.ReadAllTextAsync(RepositoryFiles.Path("deploy/haproxy/haproxy.cfg")),
            [.. Hosts.Select(h => new Haproxy.Node(h.Name, h.Address, h.Redis.Port, Agents[h.Name].HttpAddress.Port))], directory.Path);
        var (primaryPort, replicaPort) = (haproxy.PrimaryPort, haproxy.ReplicaPort);

        // Through the primary frontend: host-1; through the replicas', one of the others.
        await Poll.UntilAsync(async () => await ServedByAsync(primaryPort) == Hosts[0].Redis.Port, TimeSpan.FromSeconds(20), () => "HAProxy routes to host-1\n" + haproxy.Output);
        await Poll.UntilAsync(async () => await ServedByAsync(replicaPort) is { } port && port != Hosts[0].Redis.Port, TimeSpan.FromSeconds(20), () => "HAProxy routes reads to a replica\n" + haproxy.Output);

        // An application that knows one address: SET after SET, a new connection after any error.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var writer = new FollowingWriter(() => Task.FromResult<(string, int)?>(("127.0.0.1", primaryPort)), TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(20)).Start(stop.Token);
        await Poll.UntilAsync(() => writer.Count >= 20, TimeSpan.FromSeconds(10), () => $"the writer writes through HAProxy: {writer.LastError}");

        TimeSpan back;
        TestHost promoted;
        int before;
        using (Partition.Isolate(Hosts[0].Address))
        {
            // Taken once the cut is in force: no reply from host-1 gets through after it.
            var cut = DateTimeOffset.UtcNow;
            before = writer.AcknowledgedBefore(cut);
            await StopAgentAsync("host-1");
            await Poll.UntilAsync(() => writer.FirstAfter(cut) is not null, TimeSpan.FromSeconds(40),
                () => $"a write acknowledged through HAProxy after the cut: {writer.LastError}\n{Coordinator.Describe()}\n{haproxy.Output}");
            back = writer.FirstAfter(cut)!.Value;
            promoted = Hosts.Single(h => h.Name == Status().Primary);
            output.WriteLine($"first write through HAProxy acknowledged {back.TotalSeconds:0.00} s after the cut (window 5 s), on {promoted.Name}");
            await Poll.UntilAsync(() => writer.Count >= before + 40, TimeSpan.FromSeconds(10), () => $"the writer goes on: {writer.LastError}");
        }

        await stop.CancelAsync();
        await writer.Task;

        // Every write acknowledged after the cut is on the new primary: HAProxy sent nothing to host-1 once it was cut off.
        foreach (var key in writer.Acknowledged.Skip(before))
        {
            Assert.Equal("1", await Resp.CommandAsync(promoted.Address, promoted.Redis.Port, "EXISTS", key));
        }

        Assert.True(back < TimeSpan.FromSeconds(20), $"the first write came back {back.TotalSeconds:0.0} s after the cut");
        Assert.Equal((HttpStatusCode.OK, "primary\n"), await CheckAsync(http, promoted.Name, "/primary"));
        Assert.Equal(promoted.Redis.Port, await ServedByAsync(primaryPort));
    }

    private async Task<(HttpStatusCode Status, string Text)> CheckAsync(HttpClient http, string host, string path)
    {
        using var response = await http.GetAsync(new Uri(Agents[host].HttpAddress, path));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>The port of the Redis that answers through <paramref name="port"/>, or null when none does.</summary>
    private static async Task<int?> ServedByAsync(int port)
    {
        try
        {
            await using var client = await RespClient.ConnectAsync("127.0.0.1", port).WaitAsync(TimeSpan.FromSeconds(2));
            var info = await client.InfoAsync("server").WaitAsync(TimeSpan.FromSeconds(2));
            return int.Parse(info["tcp_port"], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or TimeoutException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }
}
