using System.Globalization;
using System.Text;
using System.Text.Json;
using RedisAgent.Load;
using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;
using StackExchange.Redis;

namespace RedisAgent.Load.Benchmarks.ClientPaths;

// client-paths: how an application follows a host-loss failover, by the path it takes to the
// primary (issue 15's benchmark). Three loopback hosts (127.0.0.11-13, each with sshd and
// redis-server; host-1 primary), host-1 cut off with iptables (its agent, or its sentinel, with it).
//
//   redis-failover: three writers at once, each 50 SETs/s on its own keys —
//     sentinel-endpoint  StackExchange.Redis, serviceName=cache, at the coordinator's Sentinel endpoint
//     haproxy            a client that knows one address: deploy/haproxy/haproxy.cfg, checked through
//                        each agent's GET /primary, a new connection after any error
//     url-file           a client that reads the coordinator's URL file again after any error
//   redis-sentinel: the same StackExchange.Redis writer at three real sentinels (one per host,
//     quorum 2, down-after = the window).
//
// For each: the fault to the first acknowledged write after it (necessarily on the new primary:
// the old one is cut off), and acknowledged writes the final primary does not have.
//
//   load/run client-paths [--window-seconds 5] [--runs 3] [--out load/results]
//
// Root only (iptables, sshd). Every rule is tagged and removed; every process is ours, killed by PID.
internal static class ClientPathsBenchmark
{
    public const string Name = "client-paths";

    public static async Task<int> RunAsync(string[] args)
    {
        var arguments = new LoadArguments(args);
        var window = TimeSpan.FromSeconds(arguments.Int("--window-seconds", 5));
        var runs = arguments.Int("--runs", 3);
        var pace = TimeSpan.FromMilliseconds(20);
        var timeout = TimeSpan.FromSeconds(1);
        var results = new List<Outcome>();
        using var keys = new SshKeys();
        Partition.SweepLeftovers();
        try
        {
            for (var run = 1; run <= runs; run++)
            {
                foreach (var system in new[] { "redis-failover", "redis-sentinel" })
                {
                    foreach (var outcome in await RunAsync(system, run))
                    {
                        Console.WriteLine(outcome);
                        results.Add(outcome);
                    }
                }
            }
        }
        finally
        {
            Partition.SweepLeftovers();
        }

        Report();
        return 0;

        async Task<List<Outcome>> RunAsync(string system, int run)
        {
            var hosts = new List<TestHost>();
            var agents = new Dictionary<string, AgentUnderTest>();
            FailoverUnderTest? coordinator = null;
            Haproxy? haproxy = null;
            var sentinels = new List<System.Diagnostics.Process>();
            var multiplexers = new List<ConnectionMultiplexer>();
            Partition? partition = null;
            using var work = new TempDirectory("client-paths");
            try
            {
                // Persistence as a primary with replicas should have it: the append-only file, fsynced every second.
                await TestHost.StartReplicatedAsync(hosts, keys, ["--appendonly", "yes", "--appendfsync", "everysec"]);
                var primary = hosts[0];

                var writers = new Dictionary<string, FollowingWriter>(StringComparer.Ordinal);
                Func<Task<(string Host, int Port)>> final;
                using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
                if (system == "redis-failover")
                {
                    var sentinelPort = LoadProcesses.FreePort();
                    coordinator = await FailoverUnderTest.StartAsync("cache", [.. hosts.Select(h => (h.Name, $"{h.Address}:{h.Redis.Port}"))], new Dictionary<string, string?>
                    {
                        ["Failover:Window"] = window.ToString(),
                        ["Failover:RoundInterval"] = "00:00:01",
                        ["Sentinel:Urls"] = $"127.0.0.1:{Str(sentinelPort)}",
                    });
                    foreach (var each in hosts)
                    {
                        var settings = coordinator.AgentSettings(each, hosts, keys.ClientKey, "cache");
                        // HAProxy checks each agent where the host's address is: a cut host's agent goes silent with it.
                        settings["Urls"] = $"http://{each.Address}:0";
                        agents[each.Name] = await AgentUnderTest.StartAsync(settings);
                    }

                    using (var channel = Grpc.Net.Client.GrpcChannel.ForAddress(coordinator.Url))
                    {
                        var admin = new RedisFailover.Protos.Admin.AdminClient(channel);
                        await Poll.UntilAsync(async () => File.Exists(coordinator.UrlFile)
                                && await admin.GetStatusAsync(new RedisFailover.Protos.ResourceRequest { Resource = "cache" }, coordinator.Headers) is { State: RedisFailover.Protos.ResourceState.Healthy } status
                                && status.Nodes.All(n => n.Connected),
                            TimeSpan.FromSeconds(30), () => coordinator.Describe());
                    }

                    haproxy = Haproxy.Start(await File.ReadAllTextAsync(Path.Combine(LoadArguments.RepoRoot(), "deploy", "haproxy", "haproxy.cfg")),
                        [.. hosts.Select(h => new Haproxy.Node(h.Name, h.Address, h.Redis.Port, agents[h.Name].HttpAddress.Port))], work.Path);

                    writers["sentinel-endpoint"] = Through(await ConnectAsync($"127.0.0.1:{Str(sentinelPort)}"), "se");
                    var haproxyPort = haproxy.PrimaryPort;
                    writers["haproxy"] = new FollowingWriter(() => Task.FromResult<(string, int)?>(("127.0.0.1", haproxyPort)), timeout, pace, "hp");
                    var urlFile = coordinator.UrlFile;
                    writers["url-file"] = new FollowingWriter(async () => Split((await File.ReadAllTextAsync(urlFile)).Trim()["REDIS_URL=redis://".Length..]), timeout, pace, "uf");
                    final = async () => Split((await File.ReadAllTextAsync(urlFile)).Trim()["REDIS_URL=redis://".Length..]);
                }
                else
                {
                    foreach (var each in hosts)
                    {
                        sentinels.Add(RedisSentinels.Start(each.Name, each.Address, primary.Address, primary.Redis.Port, window, work.Path));
                    }

                    var endpoints = hosts.Zip(sentinels, (h, s) => $"{h.Address}:{Str(RedisSentinels.Port(s))}").ToList();
                    await Poll.UntilAsync(async () =>
                    {
                        try
                        {
                            return (await Resp.CommandAsync(hosts[1].Address, RedisSentinels.Port(sentinels[1]), "SENTINEL", "replicas", "cache")).Contains("slave", StringComparison.Ordinal);
                        }
                        catch (System.Net.Sockets.SocketException)
                        {
                            return false; // not listening yet
                        }
                    }, TimeSpan.FromSeconds(30), () => "the sentinels know the replicas");
                    writers["sentinel"] = Through(await ConnectAsync(string.Join(',', endpoints)), "se");
                    final = async () =>
                    {
                        var reply = (await Resp.CommandAsync(hosts[1].Address, RedisSentinels.Port(sentinels[1]), "SENTINEL", "get-master-addr-by-name", "cache")).Split('\n');
                        return (reply[0], int.Parse(reply[1], CultureInfo.InvariantCulture));
                    };
                }

                foreach (var writer in writers.Values)
                {
                    writer.Start(stop.Token);
                }

                foreach (var (path, writer) in writers)
                {
                    await Poll.UntilAsync(() => writer.Count > 100, TimeSpan.FromSeconds(20), () => $"{path} writes: {writer.LastError}");
                }

                partition = Partition.Isolate(primary.Address);
                // Taken once the cut is in force: no reply from host-1 gets through after it.
                var fault = DateTimeOffset.UtcNow;
                if (agents.Remove("host-1", out var lost))
                {
                    await lost.DisposeAsync();
                }

                foreach (var (path, writer) in writers)
                {
                    await Poll.UntilAsync(() => writer.FirstAfter(fault) is not null, window + TimeSpan.FromSeconds(60), () => $"{system} {path}: no write after the cut ({writer.LastError})");
                }

                // A few more seconds of writes on the new primary, then count.
                await Poll.UntilAsync(() => writers.Values.All(w => w.AcknowledgedBetween(fault, DateTimeOffset.UtcNow) > 100), TimeSpan.FromSeconds(30), () => "writes after the cut");
                await stop.CancelAsync();
                await Task.WhenAll(writers.Values.Select(w => w.Task));
                var (host, port) = await final();
                var outcomes = new List<Outcome>();
                foreach (var (path, writer) in writers)
                {
                    outcomes.Add(new Outcome(system, path, run, writer.FirstAfter(fault)!.Value.TotalSeconds, writer.Count, await writer.MissingOnAsync(host, port)));
                }

                return outcomes;
            }
            finally
            {
                partition?.Dispose();
                foreach (var multiplexer in multiplexers)
                {
                    await multiplexer.DisposeAsync();
                }

                if (haproxy is not null)
                {
                    await haproxy.DisposeAsync();
                }

                await BenchmarkTeardown.StopAsync(agents.Values, coordinator, sentinels, hosts);
            }

            // StackExchange.Redis as an application configures it for Sentinel: the sentinels and the service name.
            async Task<ConnectionMultiplexer> ConnectAsync(string sentinelEndpoints)
            {
                var multiplexer = await ConnectionMultiplexer.ConnectAsync($"{sentinelEndpoints},serviceName=cache,abortConnect=false,connectTimeout=1000,syncTimeout=1000");
                multiplexers.Add(multiplexer);
                return multiplexer;
            }
        }

        FollowingWriter Through(ConnectionMultiplexer multiplexer, string prefix)
        {
            var db = multiplexer.GetDatabase();
            return FollowingWriter.Through(key => db.StringSetAsync(key, "1"), timeout, pace, prefix);
        }

        static (string Host, int Port) Split(string address)
        {
            var colon = address.LastIndexOf(':');
            return (address[..colon], int.Parse(address[(colon + 1)..], CultureInfo.InvariantCulture));
        }

        static string Str(int value) => value.ToString(CultureInfo.InvariantCulture);

        void Report()
        {
            var md = new StringBuilder()
                .AppendLine(CultureInfo.InvariantCulture, $"client-paths, host loss, window / down-after {window.TotalSeconds} s, {runs} runs, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm}Z, {Environment.ProcessorCount} cores").AppendLine()
                .AppendLine("| system | path | first write after the cut, s (median; each run) | acknowledged | lost |")
                .AppendLine("|---|---|---|---:|---:|");
            foreach (var group in results.GroupBy(r => (r.System, r.Path)))
            {
                var seconds = group.Select(r => r.FirstWriteSeconds).Order().ToList();
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {group.Key.System} | {group.Key.Path} | {seconds[seconds.Count / 2]:0.00} ({string.Join(", ", group.Select(r => r.FirstWriteSeconds.ToString("0.00", CultureInfo.InvariantCulture)))}) | {group.Sum(r => r.Acknowledged)} | {group.Sum(r => r.Lost)} |");
            }

            Directory.CreateDirectory(arguments.OutDirectory);
            File.WriteAllText(Path.Combine(arguments.OutDirectory, "client-paths.md"), md.ToString());
            File.WriteAllText(Path.Combine(arguments.OutDirectory, "client-paths.json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine(md);
        }
    }
}

internal sealed record Outcome(string System, string Path, int Run, double FirstWriteSeconds, int Acknowledged, int Lost);
