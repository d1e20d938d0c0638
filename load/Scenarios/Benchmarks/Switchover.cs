using System.Globalization;
using System.Text;
using System.Text.Json;
using RedisAgent.Load;
using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;

namespace RedisAgent.Load.Benchmarks.Switchover;

// switchover: planned changes of primary under a writer (issue 17's proof). Three loopback hosts
// (127.0.0.11-13, sshd and redis-server with appendonly; host-1 primary), a writer at about
// --rate SETs a second that follows the published primary after any error.
//
//   redis-failover: `redis-failover switchover` (the Admin API's Switchover): writes paused, the target
//     caught up, then promoted.
//   redis-sentinel: `SENTINEL FAILOVER cache` on one of three sentinels (quorum 2), the writer
//     following `SENTINEL get-master-addr-by-name`.
//
// --switchovers in a row on each (each waits for the others to be in sync with the new primary).
// For each: acknowledged writes the final primary does not have, and the longest time between two
// acknowledged writes around it (the pause clients saw).
//
//   load/run switchover [--switchovers 20] [--rate 1000] [--out load/results]
//
// Root only (sshd). Every process is ours, killed by PID; every loop is bounded.
internal static class SwitchoverBenchmark
{
    public const string Name = "switchover";

    public static async Task<int> RunAsync(string[] args)
    {
        var arguments = new LoadArguments(args);
        var switchovers = arguments.Int("--switchovers", 20);
        var rate = arguments.Int("--rate", 1000);
        var window = TimeSpan.FromSeconds(5);
        var results = new List<Outcome>();
        using var keys = new SshKeys();
        foreach (var system in new[] { "redis-failover", "redis-sentinel" })
        {
            results.Add(await RunAsync(system));
            Console.WriteLine(results[^1]);
        }

        Report();
        return 0;

        async Task<Outcome> RunAsync(string system)
        {
            var hosts = new List<TestHost>();
            var agents = new List<AgentUnderTest>();
            FailoverUnderTest? coordinator = null;
            var sentinels = new List<System.Diagnostics.Process>();
            using var work = new TempDirectory("switchover");
            try
            {
                await TestHost.StartReplicatedAsync(hosts, keys, ["--appendonly", "yes", "--appendfsync", "everysec"]);
                Func<Task<(string Host, int Port)?>> locate;
                Func<string, Task> switchOver;
                Func<Task<bool>> settled;
                Func<string> describe = () => "";
                if (system == "redis-failover")
                {
                    coordinator = await FailoverUnderTest.StartAsync("cache", [.. hosts.Select(h => (h.Name, $"{h.Address}:{h.Redis.Port}"))], new Dictionary<string, string?>
                    {
                        ["Failover:Window"] = window.ToString(),
                        ["Failover:RoundInterval"] = "00:00:01",
                    });
                    foreach (var host in hosts)
                    {
                        agents.Add(await AgentUnderTest.StartAsync(coordinator.AgentSettings(host, hosts, keys.ClientKey, "cache")));
                    }

                    var channel = Grpc.Net.Client.GrpcChannel.ForAddress(coordinator.Url);
                    var admin = new RedisFailover.Protos.Admin.AdminClient(channel);
                    var request = new RedisFailover.Protos.ResourceRequest { Resource = "cache" };
                    settled = async () =>
                    {
                        var status = await admin.GetStatusAsync(request, coordinator.Headers);
                        return status.State == RedisFailover.Protos.ResourceState.Healthy && status.Nodes.Count(n => n.InSync) == 2 && status.Nodes.All(n => n.Connected);
                    };
                    var urlFile = coordinator.UrlFile;
                    locate = async () => File.Exists(urlFile) ? Split((await File.ReadAllTextAsync(urlFile)).Trim()["REDIS_URL=redis://".Length..]) : null;
                    switchOver = async target => await admin.SwitchoverAsync(new RedisFailover.Protos.SwitchoverRequest { Resource = "cache", To = target }, coordinator.Headers);
                }
                else
                {
                    foreach (var host in hosts)
                    {
                        sentinels.Add(RedisSentinels.Start(host.Name, host.Address, hosts[0].Address, hosts[0].Redis.Port, window, work.Path));
                    }

                    var (address, port) = (hosts[1].Address, RedisSentinels.Port(sentinels[1]));
                    locate = async () =>
                    {
                        try
                        {
                            var reply = (await Resp.CommandAsync(address, port, "SENTINEL", "get-master-addr-by-name", "cache")).Split('\n');
                            return reply.Length == 2 ? (reply[0], int.Parse(reply[1], CultureInfo.InvariantCulture)) : null;
                        }
                        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
                        {
                            return null;
                        }
                    };
                    settled = async () =>
                    {
                        // Sentinel knows both replicas of the current master, their links up, and the writer's master answers as one.
                        if (await locate() is not { } master)
                        {
                            return false;
                        }

                        var replicas = await Resp.CommandAsync(address, port, "SENTINEL", "replicas", "cache");
                        var info = await Resp.CommandAsync(master.Host, master.Port, "INFO", "replication");
                        return info.Contains("role:master", StringComparison.Ordinal) && info.Contains("connected_slaves:2", StringComparison.Ordinal)
                            && replicas.Split("master-link-status\nok", StringSplitOptions.None).Length == 3;
                    };
                    describe = () =>
                    {
                        var lines = new List<string>();
                        foreach (var host in hosts)
                        {
                            try
                            {
                                var info = Resp.CommandAsync(host.Address, host.Redis.Port, "INFO", "replication").GetAwaiter().GetResult();
                                lines.Add($"{host.Name}: " + string.Join(' ', info.Split('\n').Where(l => l.StartsWith("role", StringComparison.Ordinal) || l.StartsWith("connected_slaves", StringComparison.Ordinal) || l.StartsWith("master_link_status", StringComparison.Ordinal) || l.StartsWith("master_port", StringComparison.Ordinal)).Select(l => l.Trim())));
                            }
                            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
                            {
                                lines.Add($"{host.Name}: {ex.Message}");
                            }
                        }

                        lines.Add(string.Join('\n', File.ReadLines(Path.Combine(work.Path, "sentinel-host-2.log")).TakeLast(15)));
                        return string.Join('\n', lines);
                    };
                    switchOver = async _ =>
                    {
                        // Sentinel answers -INPROG while it still finishes the previous failover (reconfiguring
                        // replicas after the writer and the replicas have settled): asked again, as an operator would.
                        string? answer = null;
                        await Poll.UntilAsync(async () =>
                        {
                            answer = await Resp.CommandAsync(address, port, "SENTINEL", "FAILOVER", "cache");
                            return answer == "OK" || !answer.StartsWith("-INPROG", StringComparison.Ordinal);
                        }, TimeSpan.FromSeconds(60), () => "SENTINEL FAILOVER is still refused: " + answer);
                        if (answer != "OK")
                        {
                            throw new InvalidOperationException("SENTINEL FAILOVER: " + answer);
                        }
                    };
                }

                await Poll.UntilAsync(settled, TimeSpan.FromSeconds(60), () => $"{system}: the resource settles");
                using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(15));
                var writer = new FollowingWriter(locate, TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(1000.0 / rate)).Start(stop.Token);
                await Poll.UntilAsync(() => writer.Count > 200, TimeSpan.FromSeconds(20), () => $"{system}: the writer writes ({writer.LastError})");
                var pauses = new List<double>();
                var started = DateTimeOffset.UtcNow;
                for (var i = 0; i < switchovers; i++)
                {
                    var before = await locate();
                    var target = hosts.First(h => (h.Address, h.Redis.Port) != before).Name;
                    var at = DateTimeOffset.UtcNow;
                    await switchOver(target);
                    // Over once the writer writes again on another primary and the replicas are in sync with it.
                    await Poll.UntilAsync(async () => await locate() is { } now && now != before && await settled(), TimeSpan.FromSeconds(60), () => $"{system}: switchover {i + 1} settles ({writer.LastError})\n{describe()}");
                    var count = writer.Count;
                    await Poll.UntilAsync(() => writer.Count > count + 50, TimeSpan.FromSeconds(20), () => $"{system}: writes after switchover {i + 1} ({writer.LastError})");
                    pauses.Add(writer.LongestGap(at - TimeSpan.FromSeconds(1), DateTimeOffset.UtcNow).TotalMilliseconds);
                }

                var elapsed = DateTimeOffset.UtcNow - started;
                await stop.CancelAsync();
                await writer.Task;
                var final = (await locate())!.Value;
                var lost = await writer.MissingOnAsync(final.Host, final.Port);
                pauses.Sort();
                return new Outcome(system, switchovers, writer.Count, writer.Count / elapsed.TotalSeconds, lost, pauses[pauses.Count / 2], pauses[Math.Min(pauses.Count - 1, (int)Math.Ceiling(pauses.Count * 0.99) - 1)], pauses[^1]);
            }
            finally
            {
                await BenchmarkTeardown.StopAsync(agents, coordinator, sentinels, hosts);
            }
        }

        static (string Host, int Port) Split(string address)
        {
            var colon = address.LastIndexOf(':');
            return (address[..colon], int.Parse(address[(colon + 1)..], CultureInfo.InvariantCulture));
        }

        void Report()
        {
            var md = new StringBuilder()
                .AppendLine(CultureInfo.InvariantCulture, $"switchover, {switchovers} in a row each, writer at up to {rate}/s, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm}Z, {Environment.ProcessorCount} cores").AppendLine()
                .AppendLine("| system | switchovers | acknowledged | writes/s | lost | write pause p50 ms | p99 ms | max ms |")
                .AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var r in results)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {r.System} | {r.Switchovers} | {r.Acknowledged} | {r.WritesPerSecond:0} | {r.Lost} | {r.PauseP50Ms:0} | {r.PauseP99Ms:0} | {r.PauseMaxMs:0} |");
            }

            Directory.CreateDirectory(arguments.OutDirectory);
            File.WriteAllText(Path.Combine(arguments.OutDirectory, "switchover.md"), md.ToString());
            File.WriteAllText(Path.Combine(arguments.OutDirectory, "switchover.json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine(md);
        }
    }
}

internal sealed record Outcome(string System, int Switchovers, int Acknowledged, double WritesPerSecond, int Lost, double PauseP50Ms, double PauseP99Ms, double PauseMaxMs);
