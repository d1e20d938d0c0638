using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using HdrHistogram;
using static RedisAgent.Load.LoadProcesses;

namespace RedisAgent.Load.Benchmarks.RestartLatency;

// restart-latency: how long a Redis node is gone after kill -9, for each restart driver,
// next to the floor (redis-server's own time from exec to its first PONG, same harness).
//
//   load/run restart-latency [--kills 20] [--out load/results]
internal static class RestartLatencyBenchmark
{
    public const string Name = "restart-latency";

    public static async Task<int> RunAsync(string[] args)
    {
        var arguments = new RedisAgent.Load.LoadArguments(args);
        var kills = arguments.Int("--kills", 20);
        var outDirectory = arguments.OutDirectory;
        var redisServer = "/usr/bin/redis-server";
        if (!File.Exists(redisServer))
        {
            Console.Error.WriteLine("redis-server is not installed: apt-get install redis-server");
            return 1;
        }

        var agentBinary = Path.Combine(AppContext.BaseDirectory, "redis-agent");
        var work = Directory.CreateTempSubdirectory("restart-latency-").FullName;
        var random = new Random(12345);
        var results = new List<ScenarioResult>();
        try
        {
            results.Add(await FloorAsync());
            results.Add(await ExecDriverAsync());
            results.Add(await CommandDriverAsync());
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }

        Report(results);
        return 0;

        // ---- scenarios ----

        async Task<ScenarioResult> FloorAsync()
        {
            var histogram = NewHistogram();
            for (var i = 0; i < kills; i++)
            {
                var port = FreePort();
                var clock = Stopwatch.StartNew();
                using var process = Process.Start(new ProcessStartInfo(redisServer, ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "", "--dir", work])
                { RedirectStandardOutput = true, UseShellExecute = false })!;
                process.BeginOutputReadLine();
                await WaitForPongAsync(port, notPid: 0, TimeSpan.FromSeconds(10));
                histogram.RecordValue(clock.Elapsed.Ticks);
                process.Kill();
                await process.WaitForExitAsync();
            }

            return new ScenarioResult("floor: redis-server exec to first PONG", histogram, "");
        }

        async Task<ScenarioResult> ExecDriverAsync()
        {
            var port = FreePort();
            await using var agent = StartAgent(new()
            {
                ["REDIS_URL"] = $"redis://127.0.0.1:{port}",
                ["Restart__Driver"] = "exec",
            });
            return await KillLoopAsync("exec driver: kill -9 to PONG", port, agent);
        }

        async Task<ScenarioResult> CommandDriverAsync()
        {
            var port = FreePort();
            var pidFile = Path.Combine(work, "command.pid");
            var command = $"{redisServer} --port {port} --bind 127.0.0.1 --save '' --appendonly no --dir {work} " +
                          $"--daemonize yes --pidfile {pidFile} --logfile {Path.Combine(work, "command.log")}";
            await RunShellAsync(command);
            await WaitForPongAsync(port, 0, TimeSpan.FromSeconds(10));
            await using var agent = StartAgent(new()
            {
                ["REDIS_URL"] = $"redis://127.0.0.1:{port}",
                ["Restart__Driver"] = "command",
                ["Restart__Command"] = command,
            });
            try
            {
                return await KillLoopAsync("command driver: kill -9 to PONG", port, agent);
            }
            finally
            {
                if (await ProcessIdAsync(port) is { } pid and > 1)
                {
                    Kill(pid, 9);
                }
            }
        }

        async Task<ScenarioResult> KillLoopAsync(string name, int port, AgentRun agent)
        {
            var histogram = NewHistogram();
            await WaitForPongAsync(port, 0, TimeSpan.FromSeconds(30));
            for (var i = 0; i < kills; i++)
            {
                // Pacing: past the agent's stable period (1 s) plus one probe interval (1 s), since the
                // stable period counts from the first PONG probe after the restart; so every kill is a
                // "first" crash, as a real one after hours of uptime is. The random offset lands kills at
                // every phase of the probe interval.
                await Task.Delay(TimeSpan.FromMilliseconds(2200 + random.Next(0, 1000)));
                var pid = await ProcessIdAsync(port) ?? throw new InvalidOperationException("no pid: " + agent.Output);
                var clock = Stopwatch.StartNew();
                Kill(pid, 9);
                await WaitForPongAsync(port, pid, TimeSpan.FromSeconds(30));
                histogram.RecordValue(clock.Elapsed.Ticks);
            }

            return new ScenarioResult(name, histogram, "default probe settings; Restart:StablePeriod=1s, Restart:StartLimitBurst=1000");
        }

        // ---- the agent, as its own process ----

        AgentRun StartAgent(Dictionary<string, string> environment)
        {
            var startInfo = new ProcessStartInfo(agentBinary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            startInfo.Environment.Remove("REDIS_URL");
            startInfo.Environment["Agent__StateDirectory"] = Path.Combine(work, "agent-" + Guid.NewGuid().ToString("N")[..8]);
            // Kills come every ~2 s: count each as a first restart, and never hit the start limit.
            startInfo.Environment["Restart__StablePeriod"] = "00:00:01";
            startInfo.Environment["Restart__StartLimitBurst"] = "1000";
            foreach (var (key, value) in environment)
            {
                startInfo.Environment[key] = value;
            }

            var run = new AgentRun(Process.Start(startInfo)!);
            run.Process.OutputDataReceived += (_, e) => run.Keep(e.Data);
            run.Process.ErrorDataReceived += (_, e) => run.Keep(e.Data);
            run.Process.BeginOutputReadLine();
            run.Process.BeginErrorReadLine();
            return run;
        }

        // ---- Redis over a raw socket: one fresh connection per attempt, like a client would ----

        async Task WaitForPongAsync(int port, int notPid, TimeSpan timeout)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < timeout)
            {
                if (await ProcessIdAsync(port) is { } pid && pid != notPid)
                {
                    return;
                }

                Thread.Sleep(1);
            }

            throw new TimeoutException($"no PONG on port {port} within {timeout}");
        }

        async Task<int?> ProcessIdAsync(int port)
        {
            try
            {
                using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
                // PING then INFO server: the pid proves the answer comes from the new process.
                await socket.SendAsync("*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n"u8.ToArray());
                var buffer = new byte[16384];
                var text = new StringBuilder();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                while (!text.ToString().Contains("process_id:", StringComparison.Ordinal) || !text.ToString().Contains("\r\nrun_id", StringComparison.Ordinal))
                {
                    var read = await socket.ReceiveAsync(buffer, timeout.Token);
                    if (read == 0)
                    {
                        return null;
                    }

                    text.Append(Encoding.ASCII.GetString(buffer, 0, read));
                    if (text[0] != '+')
                    {
                        return null; // -LOADING and friends: not answering yet
                    }
                }

                var line = text.ToString().Split("\r\n").First(l => l.StartsWith("process_id:", StringComparison.Ordinal));
                return int.Parse(line["process_id:".Length..], CultureInfo.InvariantCulture);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                return null;
            }
        }

        // ---- helpers ----

        static LongHistogram NewHistogram() => new(TimeSpan.FromMinutes(1).Ticks, 3);


        static async Task RunShellAsync(string command)
        {
            using var process = Process.Start("/bin/sh", ["-c", command])!;
            await process.WaitForExitAsync();
        }

        static void Kill(int pid, int signal)
        {
            if (pid > 1)
            {
                _ = NativeMethods.kill(pid, signal);
            }
        }

        void Report(List<ScenarioResult> scenarios)
        {
            static double Ms(LongHistogram h, double percentile) => h.GetValueAtPercentile(percentile) / (double)TimeSpan.TicksPerMillisecond;

            var floorP99 = Ms(scenarios[0].Histogram, 99);
            var markdown = new StringBuilder()
                .AppendLine(CultureInfo.InvariantCulture, $"restart-latency, {kills} kills per scenario, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm}Z, {Environment.ProcessorCount} cores")
                .AppendLine()
                .AppendLine("| scenario | p50 ms | p90 ms | p99 ms | max ms | p99 over floor ms |")
                .AppendLine("|---|---:|---:|---:|---:|---:|");
            var json = new List<object>();
            foreach (var s in scenarios)
            {
                var h = s.Histogram;
                markdown.AppendLine(CultureInfo.InvariantCulture,
                    $"| {s.Name} | {Ms(h, 50):0.0} | {Ms(h, 90):0.0} | {Ms(h, 99):0.0} | {h.GetMaxValue() / (double)TimeSpan.TicksPerMillisecond:0.0} | {Ms(h, 99) - floorP99:0.0} |");
                json.Add(new { scenario = s.Name, samples = h.TotalCount, p50_ms = Ms(h, 50), p90_ms = Ms(h, 90), p99_ms = Ms(h, 99), note = s.Note });
            }

            Directory.CreateDirectory(outDirectory);
            File.WriteAllText(Path.Combine(outDirectory, "restart-latency.md"), markdown.ToString());
            File.WriteAllText(Path.Combine(outDirectory, "restart-latency.json"), JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine(markdown);
        }
    }
}

internal sealed record ScenarioResult(string Name, LongHistogram Histogram, string Note);

internal sealed class AgentRun(Process process) : IAsyncDisposable
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();

    public Process Process => process;

    public string Output => string.Join('\n', _output);

    public void Keep(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            _ = NativeMethods.kill(process.Id, 15);
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }

        process.Dispose();
    }
}

internal static class NativeMethods
{
    [System.Runtime.InteropServices.DllImport("libc")]
    internal static extern int kill(int pid, int signal);
}
