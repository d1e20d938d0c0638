using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RedisAgent.Load;
using static RedisAgent.Load.LoadProcesses;
using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;

namespace RedisAgent.Load.Benchmarks.FailoverVsSentinel;

// failover-vs-sentinel: the same faults on three loopback hosts (127.0.0.11-13, each with sshd
// and redis-server; host-1 primary, host-2 and host-3 replicas), handled once by redis-agent +
// redis-failover and once by Redis Sentinel (three sentinels, quorum 2, down-after equal to our
// window). A writer follows the published primary throughout. For each fault: time until writes
// succeed again, failovers, acknowledged writes lost, and how long a returning old primary takes
// writes.
//
//   load/run failover-vs-sentinel [--window-seconds 5] [--out load/results]
//
// Root only (iptables, sshd). Every rule is tagged and removed; every process is ours.
internal static class FailoverVsSentinelBenchmark
{
    public const string Name = "failover-vs-sentinel";

    public static async Task<int> RunAsync(string[] args)
    {
        var arguments = new LoadArguments(args);
        var window = TimeSpan.FromSeconds(arguments.Int("--window-seconds", 5));
        // host-loss+leader-killed: the primary's host is lost and, at the same moment, the leading
        // coordinator is killed with SIGKILL (two redis-failover processes on a 3-member etcd, the
        // binaries of $PUBLISHED_BINARIES); Sentinel's side is its host loss, where the sentinel on the
        // lost host goes with it. rdb-kill: the primary persists with RDB only (save 900 1, a snapshot
        // taken before the writer starts), killed with SIGKILL: restarting it would load older data than
        // its replicas hold. port-squatted: the primary killed, and another process takes its address at
        // once, so no restart can bind it. --faults picks some (comma-separated).
        string[] faults = arguments.Text("--faults", "process-death,host-loss,blip,flapping,rdb-kill,port-squatted").Split(',', StringSplitOptions.RemoveEmptyEntries);
        string[] systems = ["redis-failover", "redis-sentinel"];
        var results = new List<Outcome>();
        using var keys = new SshKeys();
        Partition.SweepLeftovers();
        try
        {
            foreach (var fault in faults)
            {
                foreach (var system in systems)
                {
                    var outcome = await RunAsync(system, fault);
                    Console.WriteLine(outcome);
                    results.Add(outcome);
                }
            }
        }
        finally
        {
            Partition.SweepLeftovers();
        }

        Report();
        return 0;

        async Task<Outcome> RunAsync(string system, string fault)
        {
            var hosts = new List<TestHost>();
            var agents = new Dictionary<string, AgentUnderTest>();
            FailoverUnderTest? coordinator = null;
            EtcdCluster? etcd = null;
            var coordinators = new List<(string Url, Process Process)>();
            var sentinels = new List<Process>();
            var ha = system == "redis-failover" && fault == "host-loss+leader-killed";
            System.Net.Sockets.TcpListener? squatter = null;
            using var work = new TempDirectory("fvs");
            try
            {
                // Persistence as a primary with replicas should have it: the append-only file, fsynced every
                // second; rdb-kill's primary has snapshots only.
                await TestHost.StartReplicatedAsync(hosts, keys, fault == "rdb-kill" ? ["--appendonly", "no", "--save", "900 1"] : ["--appendonly", "yes", "--appendfsync", "everysec"]);
                var primary = hosts[0];
                if (fault == "rdb-kill")
                {
                    await Resp.CommandAsync(primary.Address, primary.Redis.Port, "SAVE");
                }

                Func<Task<(string Host, int Port)?>> locate;
                var haUrlFile = work.File("redis-url.env");
                if (ha)
                {
                    etcd = await EtcdCluster.StartClusterAsync();
                    var prefix = "/fvs-" + Guid.NewGuid().ToString("N")[..8];
                    var urls = new[] { LoadProcesses.FreePort(), LoadProcesses.FreePort() }.Select(p => $"http://127.0.0.1:{Str(p)}").ToList();
                    foreach (var url in urls)
                    {
                        coordinators.Add((url, StartCoordinator(url, prefix, etcd, hosts, haUrlFile)));
                    }

                    foreach (var host in hosts)
                    {
                        agents[host.Name] = await AgentUnderTest.StartAsync(FailoverUnderTest.AgentSettingsFor(string.Join(',', urls), host, hosts, keys.ClientKey, "cache"));
                    }

                    await Poll.UntilAsync(() => File.Exists(haUrlFile), TimeSpan.FromSeconds(30), () => "the primary published");
                    locate = async () =>
                    {
                        var address = (await File.ReadAllTextAsync(haUrlFile)).Trim()["REDIS_URL=redis://".Length..];
                        var colon = address.LastIndexOf(':');
                        return (address[..colon], int.Parse(address[(colon + 1)..], CultureInfo.InvariantCulture));
                    };
                }
                else if (system == "redis-failover")
                {
                    coordinator = await FailoverUnderTest.StartAsync("cache", [.. hosts.Select(h => (h.Name, $"{h.Address}:{h.Redis.Port}"))], new Dictionary<string, string?>
                    {
                        ["Failover:Window"] = window.ToString(),
                        ["Failover:RoundInterval"] = "00:00:01",
                    });
                    foreach (var host in hosts)
                    {
                        agents[host.Name] = await StartAgentAsync(host, hosts, coordinator, fault);
                    }

                    var urlFile = coordinator.UrlFile;
                    await Poll.UntilAsync(() => File.Exists(urlFile), TimeSpan.FromSeconds(20), () => "the primary published");
                    locate = async () =>
                    {
                        var address = (await File.ReadAllTextAsync(urlFile)).Trim()["REDIS_URL=redis://".Length..];
                        var colon = address.LastIndexOf(':');
                        return (address[..colon], int.Parse(address[(colon + 1)..], CultureInfo.InvariantCulture));
                    };
                }
                else
                {
                    foreach (var host in hosts)
                    {
                        sentinels.Add(RedisSentinels.Start(host.Name, host.Address, primary.Address, primary.Redis.Port, window, work.Path));
                    }

                    var ports = sentinels.Select(RedisSentinels.Port).ToList();
                    locate = async () =>
                    {
                        // Ask the sentinels in turn (one may be on the lost host).
                        for (var i = 0; i < hosts.Count; i++)
                        {
                            try
                            {
                                var reply = await Resp.CommandAsync(hosts[i].Address, ports[i], "SENTINEL", "get-master-addr-by-name", "cache").WaitAsync(TimeSpan.FromMilliseconds(300));
                                var parts = reply.Split('\n');
                                if (parts.Length == 2)
                                {
                                    return (parts[0], int.Parse(parts[1], CultureInfo.InvariantCulture));
                                }
                            }
                            catch (Exception ex) when (ex is TimeoutException or IOException or System.Net.Sockets.SocketException or InvalidDataException or FormatException)
                            {
                            }
                        }

                        return null;
                    };
                    await Poll.UntilAsync(async () => await locate() is not null, TimeSpan.FromSeconds(20), () => "the sentinels know the primary");
                }

                using var stop = new CancellationTokenSource();
                var writer = new FollowingWriter(locate, TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(5)).Start(stop.Token);
                await Poll.UntilAsync(() => writer.Count > 200, TimeSpan.FromSeconds(20), () => "the writer writes");

                var faultAt = DateTimeOffset.UtcNow;
                Partition? partition = null;
                switch (fault)
                {
                    case "process-death" or "rdb-kill":
                        var pid = int.Parse((await Info(primary, "server"))["process_id"], CultureInfo.InvariantCulture);
                        Signals.Send(pid, Signals.SigKill);
                        break;
                    case "port-squatted":
                        var killed = int.Parse((await Info(primary, "server"))["process_id"], CultureInfo.InvariantCulture);
                        Signals.Send(killed, Signals.SigKill);
                        // Taken as soon as the kill frees it: every restart fails with "Address already in use",
                        // and a client (or sentinel) that connects is accepted and never answered.
                        squatter = await PortSquatter.TakeAsync(primary.Address, primary.Redis.Port, TimeSpan.FromSeconds(5));
                        break;
                    case "host-loss" or "host-loss+leader-killed":
                        partition = Partition.Isolate(primary.Address);
                        if (ha)
                        {
                            // The leader is whoever holds the key: kill both in turn would be no test; the one whose status answers.
                            var leader = await LeaderAsync(coordinators);
                            Signals.Send(leader.Id, Signals.SigKill);
                        }

                        if (agents.Remove("host-1", out var lost))
                        {
                            await lost.DisposeAsync();
                        }

                        break;
                    case "blip":
                        using (Partition.Isolate(primary.Address))
                        {
                            await Task.Delay(window / 2);
                        }

                        break;
                    case "flapping":
                        var flapping = Stopwatch.StartNew();
                        while (flapping.Elapsed < 3 * window)
                        {
                            using (Partition.Isolate(primary.Address))
                            {
                                await Task.Delay(1000);
                            }

                            await Task.Delay(1000);
                        }

                        break;
                }

                // Writes flowing again, then time for every decision that could follow to be taken.
                // An acknowledgement after the fault is in place: one from before (or while it was being
                // set up) is fresh for a moment, and a slow failover would then be measured before it happened.
                var faultDone = DateTimeOffset.UtcNow;
                await Poll.UntilAsync(() => writer.LastAck is { } last && last > faultDone && DateTimeOffset.UtcNow - last < TimeSpan.FromMilliseconds(300),
                    window + TimeSpan.FromSeconds(40), () => $"{system} {fault}: writes never came back");
                await Task.Delay(window + TimeSpan.FromSeconds(5));
                var writesBack = writer.BackAfter(faultAt);
                double? oldPrimaryAcceptedSeconds = null;
                if (partition is not null)
                {
                    // The old primary returns (network back; for us, its agent too) and a client writes to it directly.
                    partition.Dispose();
                    partition = null;
                    if (coordinator is not null)
                    {
                        agents["host-1"] = await StartAgentAsync(primary, hosts, coordinator);
                    }
                    else if (ha)
                    {
                        agents["host-1"] = await AgentUnderTest.StartAsync(FailoverUnderTest.AgentSettingsFor(string.Join(',', coordinators.Select(c => c.Url)), primary, hosts, keys.ClientKey, "cache"));
                    }

                    oldPrimaryAcceptedSeconds = await OldPrimaryAcceptsAsync(primary);
                }

                await stop.CancelAsync();
                await writer.Task;
                var final = await locate();
                var lostWrites = final is { } f ? await writer.MissingOnAsync(f.Host, f.Port).WaitAsync(TimeSpan.FromSeconds(30)) : -1;
                var failovers = coordinator is not null
                    ? File.ReadAllLines(Path.Combine(coordinator.StoreDirectory, "cache.journal.jsonl")).Count(l => l.Contains("\"kind\":\"promote\"", StringComparison.Ordinal))
                    : ha ? await EtcdPromotionsAsync(etcd!, coordinators)
                    : RedisSentinels.Failovers(work.Path);
                return new Outcome(system, fault, writesBack.TotalSeconds, failovers, writer.Count, lostWrites, oldPrimaryAcceptedSeconds);
            }
            finally
            {
                squatter?.Dispose();
                foreach (var agent in agents.Values)
                {
                    await agent.DisposeAsync();
                }

                if (coordinator is not null)
                {
                    await coordinator.DisposeAsync();
                }

                foreach (var (_, process) in coordinators.Where(c => !c.Process.HasExited))
                {
                    process.Kill();
                    await process.WaitForExitAsync();
                }

                if (etcd is not null)
                {
                    await etcd.DisposeAsync();
                }

                await RedisSentinels.StopAsync(sentinels);

                Partition.SweepLeftovers();
                foreach (var host in hosts)
                {
                    try
                    {
                        await host.DisposeAsync();
                    }
                    catch (TimeoutException ex)
                    {
                        // A host whose processes outlive the teardown's bound must not lose the run's figures.
                        Console.Error.WriteLine($"{host.Name}: teardown: {ex.Message}");
                    }
                }
            }
        }

        Task<AgentUnderTest> StartAgentAsync(TestHost host, List<TestHost> hosts, FailoverUnderTest coordinator, string fault = "")
        {
            var settings = coordinator.AgentSettings(host, hosts, keys.ClientKey, "cache");
            if (fault == "port-squatted")
            {
                // A squatter accepts and never answers: each restart waits Restart:StartTimeout (30 s by
                // default) before it counts as failed. 2 s, as the integration test has it; said in the results.
                settings["Restart:StartTimeout"] = "00:00:02";
            }

            return AgentUnderTest.StartAsync(settings);
        }

        Process StartCoordinator(string url, string prefix, EtcdCluster etcd, List<TestHost> hosts, string urlFile)
        {
            var binary = Binaries.Path("redis-failover");
            if (!File.Exists(binary))
            {
                throw new InvalidOperationException($"{binary} is missing: set {Binaries.Variable} to scripts/publish-aot's output (host-loss+leader-killed runs the real coordinator processes)");
            }

            var start = new ProcessStartInfo(binary)
            {
                Environment =
                {
                    ["Urls"] = url,
                    ["Failover__Token"] = FailoverUnderTest.Token,
                    ["Failover__Window"] = window.ToString(),
                    ["Failover__RoundInterval"] = "00:00:01",
                    ["Failover__Store"] = "etcd",
                    ["Failover__Etcd__Endpoints"] = etcd.Endpoints,
                    ["Failover__Etcd__Prefix"] = prefix,
                    ["Failover__Etcd__LeaderTtl"] = "00:00:05",
                    ["Resources__0__Name"] = "cache",
                    ["Resources__0__UrlFile"] = urlFile,
                },
            };
            for (var i = 0; i < hosts.Count; i++)
            {
                start.Environment[$"Resources__0__Nodes__{Str(i)}__Name"] = hosts[i].Name;
                start.Environment[$"Resources__0__Nodes__{Str(i)}__Address"] = $"{hosts[i].Address}:{Str(hosts[i].Redis.Port)}";
            }

            return StartDrained(start);
        }

        static async Task<Process> LeaderAsync(List<(string Url, Process Process)> coordinators)
        {
            var headers = new Grpc.Core.Metadata { { "authorization", "Bearer " + FailoverUnderTest.Token } };
            for (var attempt = 0; attempt < 100; attempt++)
            {
                foreach (var (url, process) in coordinators)
                {
                    using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(url);
                    try
                    {
                        await new RedisFailover.Protos.Admin.AdminClient(channel).GetStatusAsync(new RedisFailover.Protos.ResourceRequest { Resource = "cache" }, headers, DateTime.UtcNow.AddSeconds(1));
                        return process;
                    }
                    catch (Grpc.Core.RpcException)
                    {
                    }
                }

                await Task.Delay(100);
            }

            throw new TimeoutException("no coordinator leads");
        }

        static async Task<int> EtcdPromotionsAsync(EtcdCluster etcd, List<(string Url, Process Process)> coordinators)
        {
            var prefix = coordinators[0].Process.StartInfo.Environment["Failover__Etcd__Prefix"];
            var start = new ProcessStartInfo("/usr/bin/etcdctl", ["--endpoints", etcd.Endpoints, "get", "--prefix", prefix + "/resources/cache/journal/", "--print-value-only"])
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            using var process = Process.Start(start)!;
            var text = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            return text.Split('\n').Count(l => l.Contains("\"kind\":\"promote\"", StringComparison.Ordinal));
        }

        async Task<double?> OldPrimaryAcceptsAsync(TestHost old)
        {
            // How long, after it is reachable again, the old primary acknowledges writes sent to it.
            var clock = Stopwatch.StartNew();
            DateTimeOffset? lastAccepted = null;
            var started = DateTimeOffset.UtcNow;
            while (clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                try
                {
                    await using var client = await RespClient.ConnectAsync(old.Address, old.Redis.Port).WaitAsync(TimeSpan.FromMilliseconds(500));
                    var reply = await client.CommandAsync("SET", "old-primary-probe", "x").WaitAsync(TimeSpan.FromMilliseconds(500));
                    if (reply == "OK")
                    {
                        lastAccepted = DateTimeOffset.UtcNow;
                    }
                    else if ((await Info(old, "replication"))["role"] == "slave")
                    {
                        break;
                    }
                }
                catch (Exception ex) when (ex is TimeoutException or IOException or System.Net.Sockets.SocketException or InvalidDataException)
                {
                }

                await Task.Delay(50);
            }

            return lastAccepted is { } last ? (last - started).TotalSeconds : 0;
        }

        static async Task<Dictionary<string, string>> Info(TestHost host, string section)
        {
            await using var client = await RespClient.ConnectAsync(host.Address, host.Redis.Port);
            return await client.InfoAsync(section);
        }

        static string Str(int value) => value.ToString(CultureInfo.InvariantCulture);

        void Report()
        {
            var md = new StringBuilder()
                .AppendLine(CultureInfo.InvariantCulture, $"failover-vs-sentinel, window / down-after {window.TotalSeconds} s, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm}Z, {Environment.ProcessorCount} cores").AppendLine()
                .AppendLine("| fault | system | writes back after s | failovers | acknowledged writes | lost | old primary took writes for s |")
                .AppendLine("|---|---|---:|---:|---:|---:|---:|");
            foreach (var r in results)
            {
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {r.Fault} | {r.System} | {r.WritesBackSeconds:0.0} | {r.Failovers} | {r.Acknowledged} | {r.Lost} | {(r.OldPrimaryAcceptedSeconds is { } s ? s.ToString("0.0", CultureInfo.InvariantCulture) : "-")} |");
            }

            var outDirectory = arguments.OutDirectory;
            Directory.CreateDirectory(outDirectory);
            File.WriteAllText(Path.Combine(outDirectory, "failover-vs-sentinel.md"), md.ToString());
            File.WriteAllText(Path.Combine(outDirectory, "failover-vs-sentinel.json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine(md);
        }
    }
}

internal sealed record Outcome(string System, string Fault, double WritesBackSeconds, int Failovers, int Acknowledged, int Lost, double? OldPrimaryAcceptedSeconds);
