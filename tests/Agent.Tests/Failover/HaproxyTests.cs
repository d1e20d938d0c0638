using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
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
public sealed partial class HaproxyTests(LoopbackHosts hosts, Xunit.Abstractions.ITestOutputHelper output) : ThreeHostResource(hosts)
{
    private const string Haproxy = "/usr/sbin/haproxy";

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
        var (primaryPort, replicaPort) = (LoopbackPorts.Free(), LoopbackPorts.Free());
        var config = directory.File("haproxy.cfg");
        await File.WriteAllTextAsync(config, Configuration(primaryPort, replicaPort));
        using var haproxy = Process.Start(new ProcessStartInfo(Haproxy, ["-db", "-f", config]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
        var said = new System.Collections.Concurrent.ConcurrentQueue<string>();
        haproxy.OutputDataReceived += (_, e) => said.Enqueue(e.Data ?? "");
        haproxy.ErrorDataReceived += (_, e) => said.Enqueue(e.Data ?? "");
        haproxy.BeginOutputReadLine();
        haproxy.BeginErrorReadLine();
        try
        {
            // Through the primary frontend: host-1; through the replicas', one of the others.
            await Poll.UntilAsync(async () => await ServedByAsync(primaryPort) == Hosts[0].Redis.Port, TimeSpan.FromSeconds(20), () => "HAProxy routes to host-1\n" + string.Join('\n', said));
            await Poll.UntilAsync(async () => await ServedByAsync(replicaPort) is { } port && port != Hosts[0].Redis.Port, TimeSpan.FromSeconds(20), () => "HAProxy routes reads to a replica\n" + string.Join('\n', said));

            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var writer = new Writer(primaryPort);
            var writing = writer.RunAsync(stop.Token);
            await Poll.UntilAsync(() => writer.Acknowledged.Count >= 20, TimeSpan.FromSeconds(10), () => $"the writer writes through HAProxy: {writer.LastError}");

            TimeSpan back;
            TestHost promoted;
            using (Partition.Isolate(Hosts[0].Address))
            {
                var cut = Stopwatch.GetTimestamp();
                var before = writer.Acknowledged.Count;
                await StopAgentAsync("host-1");
                await Poll.UntilAsync(() => writer.Acknowledged.Skip(before).Any(w => w.At > cut), TimeSpan.FromSeconds(40),
                    () => $"a write acknowledged through HAProxy after the cut: {writer.LastError}\n{Coordinator.Describe()}\n{string.Join('\n', said)}");
                back = Stopwatch.GetElapsedTime(cut, writer.Acknowledged.Skip(before).First(w => w.At > cut).At);
                promoted = Hosts.Single(h => h.Name == Status().Primary);
                output.WriteLine($"first write through HAProxy acknowledged {back.TotalSeconds:0.00} s after the cut (window 5 s), on {promoted.Name}");

                await Poll.UntilAsync(() => writer.Acknowledged.Count >= before + 40, TimeSpan.FromSeconds(10), () => $"the writer goes on: {writer.LastError}");
            }

            await stop.CancelAsync();
            await writing;

            // Every write acknowledged after the cut is on the new primary: HAProxy sent nothing to host-1 once it was cut off.
            var after = writer.Acknowledged.Where(w => w.Key.StartsWith("w:", StringComparison.Ordinal)).TakeLast(20).ToList();
            foreach (var (key, _) in after)
            {
                Assert.Equal("1", await Resp.CommandAsync(promoted.Address, promoted.Redis.Port, "EXISTS", key));
            }

            Assert.True(back < TimeSpan.FromSeconds(20), $"the first write came back {back.TotalSeconds:0.0} s after the cut");
            Assert.Equal((HttpStatusCode.OK, "primary\n"), await CheckAsync(http, promoted.Name, "/primary"));
            Assert.Equal(promoted.Redis.Port, await ServedByAsync(primaryPort));
        }
        finally
        {
            haproxy.Kill();
            await haproxy.WaitForExitAsync();
        }
    }

    /// <summary>The shipped file, its addresses replaced by the test's: each server at its host, checked at its agent's port.</summary>
    private string Configuration(int primaryPort, int replicaPort)
    {
        var text = File.ReadAllText(RepositoryFiles.Path("deploy/haproxy/haproxy.cfg"));
        text = text.Replace("bind 127.0.0.1:6380", $"bind 127.0.0.1:{primaryPort}", StringComparison.Ordinal)
            .Replace("bind 127.0.0.1:6381", $"bind 127.0.0.1:{replicaPort}", StringComparison.Ordinal);
        var replaced = 0;
        text = ServerLine().Replace(text, match =>
        {
            replaced++;
            var host = Hosts[int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) - 1];
            return $"server {host.Name} {host.Address}:{host.Redis.Port} check addr {host.Address} port {Agents[host.Name].HttpAddress.Port}";
        });
        Assert.Equal(6, replaced);
        return text;
    }

    [GeneratedRegex(@"server db-(\d) db-\d:6379 check port 9379")]
    private static partial Regex ServerLine();

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

    /// <summary>SET after SET through HAProxy on one connection, a new one after any error: an application that knows one address.</summary>
    private sealed class Writer(int port)
    {
        public System.Collections.Concurrent.ConcurrentQueue<(string Key, long At)> Acknowledged { get; } = new();

        public string? LastError { get; private set; }

        public async Task RunAsync(CancellationToken stop)
        {
            RespClient? client = null;
            var next = 0;
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        client ??= await RespClient.ConnectAsync("127.0.0.1", port).WaitAsync(TimeSpan.FromSeconds(1), stop);
                        var key = "w:" + next.ToString(CultureInfo.InvariantCulture);
                        var reply = await client.CommandAsync("SET", key, "1").WaitAsync(TimeSpan.FromSeconds(1), stop);
                        if (reply == "OK")
                        {
                            Acknowledged.Enqueue((key, Stopwatch.GetTimestamp()));
                            next++;
                        }
                        else
                        {
                            LastError = reply;
                        }
                    }
                    catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or TimeoutException or InvalidOperationException or IndexOutOfRangeException)
                    {
                        LastError = e.Message;
                        if (client is not null)
                        {
                            await client.DisposeAsync();
                            client = null;
                        }
                    }

                    await Task.Delay(20, CancellationToken.None);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
            finally
            {
                if (client is not null)
                {
                    await client.DisposeAsync();
                }
            }
        }
    }
}
