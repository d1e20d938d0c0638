using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RedisAgent.Load;
using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;

namespace RedisAgent.Load.Benchmarks.IsolatedWrites;

// isolated-writes: how long a primary cut off from its network goes on acknowledging writes that a
// failover will discard (issue 16, item 3: at most 1 s at any window). Three loopback hosts
// (127.0.0.11-13, sshd and redis-server with appendonly; host-1 primary, host-2 and host-3 its
// replicas). An application on host-1 itself writes to it over 127.0.0.1 at --rate SETs a second,
// a path no partition cuts; then host-1's address is cut off from everything (iptables DROP) for
// --cut-seconds, and the last write acknowledged after the cut is what each mechanism allowed.
//
//   self-fence:          redis-agent + redis-failover at their defaults (reports every 1 s, so the
//                        fence after 2 s), each agent's traffic from its host's address.
//   self-fence-tuned:    the same with Coordinator:ReportInterval 250 ms, SelfFenceAfter 750 ms.
//   min-replicas:        Redis's own min-replicas-to-write 1, min-replicas-max-lag 1 on the primary
//                        (its smallest lag; Redis counts it in whole seconds), no agent.
//   redis-sentinel:      three sentinels, quorum 2, down-after = the window: nothing bounds the old
//                        primary's writes until the heal.
//
//   load/run isolated-writes [--runs 3] [--rate 50] [--cut-seconds 8] [--out load/results]
//
// Root only (iptables, sshd). Every rule is tagged and removed; every process is ours, by PID.
internal static class IsolatedWritesBenchmark
{
    public const string Name = "isolated-writes";

    public static async Task<int> RunAsync(string[] args)
    {
        var arguments = new LoadArguments(args);
        var runs = arguments.Int("--runs", 3);
        var rate = arguments.Int("--rate", 50);
        var cutFor = TimeSpan.FromSeconds(arguments.Int("--cut-seconds", 8));
        var window = TimeSpan.FromSeconds(5);
        string[] systems = arguments.Text("--systems", "self-fence,self-fence-tuned,min-replicas,redis-sentinel").Split(',', StringSplitOptions.RemoveEmptyEntries);
        var results = new List<Outcome>();
        using var keys = new SshKeys();
        Partition.SweepLeftovers();
        try
        {
            for (var run = 1; run <= runs; run++)
            {
                foreach (var system in systems)
                {
                    var outcome = await RunAsync(system, run);
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

        async Task<Outcome> RunAsync(string system, int run)
        {
            var hosts = new List<TestHost>();
            var agents = new List<AgentUnderTest>();
            FailoverUnderTest? coordinator = null;
            var sentinels = new List<Process>();
            using var work = new TempDirectory("isolated");
            try
            {
                await TestHost.StartReplicatedAsync(hosts, keys, ["--appendonly", "yes", "--appendfsync", "everysec"]);
                var primary = hosts[0];
                switch (system)
                {
                    case "self-fence" or "self-fence-tuned":
                        coordinator = await FailoverUnderTest.StartAsync("cache", [.. hosts.Select(h => (h.Name, $"{h.Address}:{h.Redis.Port}"))], new Dictionary<string, string?>
                        {
                            ["Failover:Window"] = window.ToString(),
                            ["Failover:RoundInterval"] = "00:00:01",
                        });
                        foreach (var host in hosts)
                        {
                            var settings = coordinator.AgentSettings(host, hosts, keys.ClientKey, "cache");
                            settings["Agent:SourceAddress"] = host.Address;
                            if (system == "self-fence")
                            {
                                // The agent's defaults (the fixture's settings report every 250 ms).
                                settings.Remove("Coordinator:ReportInterval");
                            }
                            else
                            {
                                settings["Coordinator:ReportInterval"] = "00:00:00.250";
                                settings["Coordinator:SelfFenceAfter"] = "00:00:00.750";
                            }
                            agents.Add(await AgentUnderTest.StartAsync(settings));
                        }

                        using (var channel = Grpc.Net.Client.GrpcChannel.ForAddress(coordinator.Url))
                        {
                            var admin = new RedisFailover.Protos.Admin.AdminClient(channel);
                            await Poll.UntilAsync(async () => (await admin.GetStatusAsync(new RedisFailover.Protos.ResourceRequest { Resource = "cache" }, coordinator.Headers)) is { Primary: "host-1" } status
                                && status.Nodes.All(n => n.Connected) && status.FailoverBlockers.Count == 0, TimeSpan.FromSeconds(30), () => "every agent connected, a standby in sync");
                        }
                        break;
                    case "min-replicas":
                        await Resp.CommandAsync(primary.Address, primary.Redis.Port, "CONFIG", "SET", "min-replicas-to-write", "1");
                        await Resp.CommandAsync(primary.Address, primary.Redis.Port, "CONFIG", "SET", "min-replicas-max-lag", "1");
                        break;
                    case "redis-sentinel":
                        foreach (var host in hosts)
                        {
                            sentinels.Add(RedisSentinels.Start(host.Name, host.Address, primary.Address, primary.Redis.Port, window, work.Path));
                        }

                        break;
                    default:
                        throw new ArgumentException($"unknown system '{system}'");
                }

                // The application on host-1: SETs over 127.0.0.1 at the rate, each acknowledgement timed.
                using var stop = new CancellationTokenSource();
                var acknowledged = new List<DateTimeOffset>();
                var writer = Task.Run(() => WriteAsync(primary, acknowledged, stop.Token));
                await Poll.UntilAsync(() => { lock (acknowledged) { return acknowledged.Count >= rate; } }, TimeSpan.FromSeconds(20), () => "the local writer writes");

                DateTimeOffset cut;
                using (Partition.Isolate(primary.Address))
                {
                    cut = DateTimeOffset.UtcNow;
                    var clock = Stopwatch.StartNew();
                    // Held for the whole cut: what is measured is what the primary acknowledges while cut off.
                    while (clock.Elapsed < cutFor)
                    {
                        await Task.Delay(100);
                    }
                }

                await stop.CancelAsync();
                await writer;
                // When host-1's agent fenced its primary (event 1608), for ours; and the longest stall the
                // local client saw between the cut and its last acknowledged write.
                double? fencedAfter = agents.Count > 0 && agents[0].Logs.Entries.FirstOrDefault(e => e.EventId == 1608) is { } fence ? (fence.At - cut).TotalSeconds : null;
                lock (acknowledged)
                {
                    var after = acknowledged.Where(at => at >= cut).ToList();
                    var last = after.DefaultIfEmpty(cut).Max();
                    var stall = after.Prepend(cut).Zip(after, (a, b) => (b - a).TotalSeconds).DefaultIfEmpty(0).Max();
                    if (agents.Count > 0)
                    {
                        Console.WriteLine(agents[0].Logs.Text.Split('\n').Where(l => l.Contains("[16", StringComparison.Ordinal) || l.Contains("[10", StringComparison.Ordinal)).TakeLast(12).Aggregate("", (a, l) => a + l + "\n"));
                    }

                    return new Outcome(system, run, (last - cut).TotalSeconds, after.Count, rate, cutFor.TotalSeconds, fencedAfter, stall);
                }
            }
            finally
            {
                await BenchmarkTeardown.StopAsync(agents, coordinator, sentinels, hosts);
            }
        }

        async Task WriteAsync(TestHost primary, List<DateTimeOffset> acknowledged, CancellationToken stop)
        {
            var pace = TimeSpan.FromSeconds(1.0 / rate);
            var clock = Stopwatch.StartNew();
            long sent = 0;
            // Bounded: at most 10 minutes of writes.
            while (!stop.IsCancellationRequested && clock.Elapsed < TimeSpan.FromMinutes(10))
            {
                try
                {
                    await using var client = await RespClient.ConnectAsync("127.0.0.1", primary.Redis.Port).WaitAsync(TimeSpan.FromSeconds(1), stop);
                    while (!stop.IsCancellationRequested && clock.Elapsed < TimeSpan.FromMinutes(10))
                    {
                        var due = pace * sent;
                        if (due > clock.Elapsed)
                        {
                            await Task.Delay(due - clock.Elapsed, stop);
                        }

                        sent++;
                        if (await client.CommandAsync("SET", "local:" + sent.ToString(CultureInfo.InvariantCulture), "1").WaitAsync(TimeSpan.FromSeconds(1), stop) == "OK")
                        {
                            lock (acknowledged)
                            {
                                acknowledged.Add(DateTimeOffset.UtcNow);
                            }
                        }
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception ex) when (ex is TimeoutException or IOException or System.Net.Sockets.SocketException or InvalidDataException)
                {
                    // A paused write times out (the fence) or is refused (NOREPLICAS): not acknowledged.
                }
            }
        }

        void Report()
        {
            var md = new StringBuilder()
                .AppendLine(CultureInfo.InvariantCulture, $"isolated-writes: a primary cut off for {cutFor.TotalSeconds:0} s, a local client at {rate} writes/s, {runs} run(s), {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm}Z, {Environment.ProcessorCount} cores").AppendLine()
                .AppendLine("| mechanism | writes acknowledged after the cut, s (each run) | writes (each run) | max |")
                .AppendLine("|---|---|---|---:|");
            foreach (var group in results.GroupBy(r => r.System))
            {
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {group.Key} | {string.Join(", ", group.Select(r => r.AcknowledgedForSeconds.ToString("0.00", CultureInfo.InvariantCulture)))} | {string.Join(", ", group.Select(r => r.Writes))} | {group.Max(r => r.AcknowledgedForSeconds).ToString("0.00", CultureInfo.InvariantCulture)} s |");
            }

            var outDirectory = arguments.OutDirectory;
            Directory.CreateDirectory(outDirectory);
            File.WriteAllText(Path.Combine(outDirectory, "isolated-writes.md"), md.ToString());
            File.WriteAllText(Path.Combine(outDirectory, "isolated-writes.json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine(md);
        }
    }
}

internal sealed record Outcome(string System, int Run, double AcknowledgedForSeconds, int Writes, int Rate, double CutSeconds, double? FencedAfterSeconds, double LongestStallSeconds);
