using RedisShared.Security;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using HdrHistogram;
using Microsoft.Extensions.Logging.Abstractions;
using RedisAgent.Connection;
using RedisAgent.Load;
using RedisAgent.HostProbing;
using RedisAgent.Node;
using RedisAgent.Peers;
using RedisAgent.Probing;
using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;

namespace RedisAgent.Load.Benchmarks.HostProbes;

// host-probes: what an SSH host probe costs, and how long the agent takes to a verdict.
//
//   load/run host-probes [--probes 1000] [--runs 20] [--out load/results]
//
// --runs 0 measures the cost of probes only.
//
// Talks only to an sshd and a redis-server it starts itself on 127.0.0.12; every iptables rule it
// adds is tagged and removed in finally.
internal static class HostProbesBenchmark
{
    public const string Name = "host-probes";

    public static async Task<int> RunAsync(string[] args)
    {
        var arguments = new LoadArguments(args);
        var probes = arguments.Int("--probes", 1000);
        var runs = arguments.Int("--runs", 20);
        var outDirectory = arguments.OutDirectory;
        Partition.SweepLeftovers();
        using var keys = new SshKeys();
        await using var host = await TestHost.StartAsync("bench-host", "127.0.0.12", keys);
        var report = new StringBuilder();
        var json = new Dictionary<string, object>();
        report.AppendLine(CultureInfo.InvariantCulture, $"host-probes, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm}Z, {Environment.ProcessorCount} cores").AppendLine();

        // ---- 1. cost of 1,000 probes: no command (the default) or `true`, kept session or fresh connection ----
        report.AppendLine(CultureInfo.InvariantCulture, $"### {probes} SSH probes, sequential").AppendLine()
            .AppendLine("| mode | wall s | agent CPU ms | sshd CPU ms | agent CPU per probe ms | sshd CPU per probe ms | p50 ms | p99 ms |")
            .AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        using var factory = new HostProbeFactory(TimeProvider.System);
        foreach (var (keep, command) in new[] { (true, (string?)null), (false, null), (true, "true"), (false, "true") })
        {
            var ssh = Settings(host, keys, keep) with { CheckCommand = command };
            using var probe = factory.Create(ssh);
            await probe.ProbeAsync(CancellationToken.None); // warm up (JIT, first key exchange)
            var latencies = new LongHistogram(TimeSpan.FromMinutes(1).Ticks, 3);
            var agentCpu = Process.GetCurrentProcess().TotalProcessorTime;
            var sshdCpu = CpuTicks(SshdPid(host));
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < probes; i++)
            {
                var result = await probe.ProbeAsync(CancellationToken.None);
                if (result.Outcome != HostProbeOutcome.Answered)
                {
                    throw new InvalidOperationException($"probe {i}: {result.Outcome} {result.Detail}");
                }

                latencies.RecordValue(result.Latency.Ticks);
            }

            var wall = clock.Elapsed;
            var agentMs = (Process.GetCurrentProcess().TotalProcessorTime - agentCpu).TotalMilliseconds;
            var sshdMs = (CpuTicks(SshdPid(host)) - sshdCpu) * 1000.0 / 100; // USER_HZ = 100
            var name = (keep ? "kept session" : "fresh connection") + (command is null ? ", no command (bare channel)" : $", check command `{command}`");
            report.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | {wall.TotalSeconds:0.0} | {agentMs:0} | {sshdMs:0} | {agentMs / probes:0.00} | {sshdMs / probes:0.00} | {Ms(latencies, 50):0.0} | {Ms(latencies, 99):0.0} |");
            json[name] = new { wall_s = wall.TotalSeconds, agent_cpu_ms = agentMs, sshd_cpu_ms = sshdMs, p50_ms = Ms(latencies, 50), p99_ms = Ms(latencies, 99) };
        }

        // ---- 2. time to a verdict at the default settings ----
        var dropToUnreachable = new LongHistogram(TimeSpan.FromMinutes(5).Ticks, 3);
        var killToDown = new LongHistogram(TimeSpan.FromMinutes(5).Ticks, 3);
        var book = new ObservationBook();
        var target = new ProbeTarget("bench-host", IsLocal: false, RedisEndpoint.Parse(host.Redis.Url), Settings(host, keys, keep: true), "Peers:0");
        using var monitor = new TargetMonitor(target, new ProbeOptions(), new VerdictOptions(), TlsTrust.System, factory, book, TimeProvider.System, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var watching = monitor.RunAsync(stop.Token);
        var random = new Random(7);
        try
        {
            if (runs == 0)
            {
                return Finish();
            }

            for (var run = 0; run < runs; run++)
            {
                await WaitForAsync(() => book["bench-host"]!.Verdict == NodeVerdict.Healthy && book["bench-host"]!.HostVerdict == HostVerdict.Up, "healthy");
                await Task.Delay(random.Next(0, 1000)); // land at every phase of the probe interval
                var clock = Stopwatch.StartNew();
                using (Partition.Isolate(host.Address))
                {
                    await WaitForAsync(() => book["bench-host"]!.Verdict == NodeVerdict.HostUnreachable, "unreachable");
                    dropToUnreachable.RecordValue(clock.Elapsed.Ticks);
                }

                await WaitForAsync(() => book["bench-host"]!.Verdict == NodeVerdict.Healthy, "healthy again");
                await Task.Delay(random.Next(0, 1000));
                var pid = await host.Redis.ProcessIdAsync();
                clock.Restart();
                Signals.Send(pid, Signals.SigKill);
                await WaitForAsync(() => book["bench-host"]!.Verdict == NodeVerdict.ProcessDown, "process down");
                killToDown.RecordValue(clock.Elapsed.Ticks);
                await RunAsync(host.Redis.DaemonCommand);
            }
        }
        finally
        {
            await stop.CancelAsync();
            await watching;
            Partition.SweepLeftovers();
        }

        report.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"### Time to a verdict, {runs} runs, default settings (probe 1 s, retry 200 ms, timeout 1 s; 3 failures; SSH timeouts 2 s; kept session)").AppendLine()
            .AppendLine("| event | p50 ms | p99 ms | max ms |").AppendLine("|---|---:|---:|---:|")
            .AppendLine(CultureInfo.InvariantCulture, $"| iptables DROP to HostUnreachable | {Ms(dropToUnreachable, 50):0} | {Ms(dropToUnreachable, 99):0} | {dropToUnreachable.GetMaxValue() / (double)TimeSpan.TicksPerMillisecond:0} |")
            .AppendLine(CultureInfo.InvariantCulture, $"| kill -9 to ProcessDown | {Ms(killToDown, 50):0} | {Ms(killToDown, 99):0} | {killToDown.GetMaxValue() / (double)TimeSpan.TicksPerMillisecond:0} |");
        json["drop_to_unreachable"] = new { p50_ms = Ms(dropToUnreachable, 50), p99_ms = Ms(dropToUnreachable, 99) };
        json["kill_to_process_down"] = new { p50_ms = Ms(killToDown, 50), p99_ms = Ms(killToDown, 99) };

        return Finish();

        int Finish()
        {
            Directory.CreateDirectory(outDirectory);
            File.WriteAllText(Path.Combine(outDirectory, "host-probes.md"), report.ToString());
            File.WriteAllText(Path.Combine(outDirectory, "host-probes.json"), JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine(report);
            return 0;
        }

        static ResolvedSsh Settings(TestHost host, SshKeys keys, bool keep) =>
            new SshOptions { KeyFile = keys.ClientKey, HostKeySha256 = host.Ssh.HostKeySha256, Port = host.Ssh.Port, User = "root", KeepSession = keep }
                .Resolve(null, host.Address);

        static int SshdPid(TestHost host) =>
            int.Parse(File.ReadAllText(Path.Combine(Path.GetDirectoryName(host.Ssh.HostKeyFile)!, "sshd.pid")).Trim(), CultureInfo.InvariantCulture);

        // utime + stime + cutime + cstime of sshd and every live descendant: reaped children land in cutime/cstime.
        static long CpuTicks(int pid) => Signals.Descendants(pid).Prepend(pid).Sum(p =>
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{p}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)
                     + long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                return 0;
            }
        });

        static double Ms(LongHistogram h, double percentile) => h.GetValueAtPercentile(percentile) / (double)TimeSpan.TicksPerMillisecond;

        static Task WaitForAsync(Func<bool> condition, string what) => Poll.UntilAsync(condition, TimeSpan.FromSeconds(60), () => what);

        static async Task RunAsync(string command)
        {
            using var process = Process.Start("/bin/sh", ["-c", command])!;
            await process.WaitForExitAsync();
        }
    }
}
