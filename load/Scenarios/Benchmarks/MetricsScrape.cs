using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using RedisAgent.Load;
using static RedisAgent.Load.LoadProcesses;

namespace RedisAgent.Load.Benchmarks.MetricsScrape;

// metrics-scrape: the agent's /metrics against prometheus-redis-exporter's, side by side on one
// redis-server: wrk at 1, 10 and 50 concurrent scrapers, Redis connections opened per scrape,
// CPU and RSS per 1,000 scrapes, then the agent's CPU when nobody scrapes.
//
//   load/run metrics-scrape [--seconds 10] [--warmup-seconds 150] [--idle-seconds 60] [--out load/results]
//
// wrk rather than hey: hey spends more CPU per request than either exporter (gunzip in Go), and on
// two cores the load generator's CPU is taken from the server it measures.
// Needs redis-server, prometheus-redis-exporter and wrk (Debian: redis-server prometheus-redis-exporter wrk).
internal static class MetricsScrapeBenchmark
{
    public const string Name = "metrics-scrape";

    public static async Task<int> RunAsync(string[] args)
    {
        var arguments = new LoadArguments(args);
        var seconds = arguments.Int("--seconds", 10);
        var idleSeconds = arguments.Int("--idle-seconds", 60);
        var warmupSeconds = arguments.Int("--warmup-seconds", 150);
        int[] concurrencies = [1, 10, 50];
        var work = Directory.CreateTempSubdirectory("metrics-scrape-").FullName;
        var processes = new List<Process>();
        var redisPort = FreePort();
        var agentPort = FreePort();
        var exporterPort = FreePort();
        Process? redis = null;
        try
        {
            foreach (var binary in new[] { "/usr/bin/redis-server", "/usr/bin/prometheus-redis-exporter", "/usr/bin/wrk" })
            {
                if (!File.Exists(binary))
                {
                    Console.Error.WriteLine($"metrics-scrape needs {binary}: apt-get install redis-server prometheus-redis-exporter wrk");
                    return 2;
                }
            }

            redis = Start("/usr/bin/redis-server", ["--port", Str(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", work]);
            await WaitForPortAsync(redisPort);
            await PopulateAsync(redisPort);

            var agent = StartAgent(redisPort, agentPort);
            var exporter = Start("/usr/bin/prometheus-redis-exporter", [$"-redis.addr=redis://127.0.0.1:{redisPort}", $"-web.listen-address=127.0.0.1:{exporterPort}"]);
            await WaitForMetricsAsync(agentPort);
            await WaitForMetricsAsync(exporterPort);

            var runs = new List<Run>();
            foreach (var concurrency in concurrencies)
            {
                runs.Add(await ScrapeAsync("redis-agent", agent, agentPort, concurrency));
                runs.Add(await ScrapeAsync("redis_exporter 1.45", exporter, exporterPort, concurrency));
            }

            exporter.Kill();
            var idle = await IdleAsync(agent);
            Report(runs, idle);
            return 0;
        }
        finally
        {
            foreach (var process in processes)
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync();
                }
            }

            Directory.Delete(work, recursive: true);
        }

        async Task<Run> ScrapeAsync(string name, Process target, int port, int concurrency)
        {
            var url = $"http://127.0.0.1:{port}/metrics";
            var connectionsBefore = await InfoNumberAsync(redisPort, "total_connections_received");
            var redisCpuBefore = CpuMs(RedisPid());
            var probesBefore = await AgentPortProbesAsync();
            var cpuBefore = CpuMs(target.Id);
            var output = await WrkAsync(url, seconds, concurrency);
            var requests = (long)Number(output, @"(\d+) requests in");
            var cpu = CpuMs(target.Id) - cpuBefore;
            var redisCpu = CpuMs(RedisPid()) - redisCpuBefore;
            var probes = await AgentPortProbesAsync() - probesBefore;
            // The probe of this status check and the agent's own port probes (one a second) are not scrapes.
            var connections = await InfoNumberAsync(redisPort, "total_connections_received") - connectionsBefore - 1 - probes;
            var ok = requests - (long)(double.IsNaN(Number(output, @"Non-2xx or 3xx responses: (\d+)")) ? 0 : Number(output, @"Non-2xx or 3xx responses: (\d+)"));
            var run = new Run(
                name, concurrency, (long)ok, requests,
                Number(output, @"Requests/sec:\s+([\d.]+)"),
                Millis(output, "50%"),
                Millis(output, "99%"),
                connections / (double)requests,
                cpu * 1000.0 / requests,
                redisCpu * 1000.0 / requests,
                RssKb(target.Id));
            Console.WriteLine(run);
            return run;
        }

        async Task<Idle> IdleAsync(Process agent)
        {
            // Nobody scrapes. Beside the agent under test (sampling and probing every second), one that
            // neither samples nor probes and one that only samples, so that sampling's own cost is the
            // difference. Methods called once a second take minutes to reach their final JIT tier:
            // measure after a warm-up, over one window for all three.
            var baseline = StartAgent(redisPort, FreePort(), ("Sampling__Interval", "01:00:00"), ("Probe__Interval", "01:00:00"));
            var samplingOnly = StartAgent(redisPort, FreePort(), ("Probe__Interval", "01:00:00"));
            await Task.Delay(TimeSpan.FromSeconds(warmupSeconds));
            var before = (CpuMs(agent.Id), CpuMs(baseline.Id), CpuMs(samplingOnly.Id));
            var clock = Stopwatch.StartNew();
            await Task.Delay(TimeSpan.FromSeconds(idleSeconds));
            var seconds = clock.Elapsed.TotalSeconds;
            double Percent(long ms) => ms / (seconds * 1000) * 100;
            var all = CpuMs(agent.Id) - before.Item1;
            var none = CpuMs(baseline.Id) - before.Item2;
            var sampling = CpuMs(samplingOnly.Id) - before.Item3;
            return new Idle(seconds, all, Percent(all), none, Percent(none), sampling, Percent(sampling), Percent(sampling - none), RssKb(agent.Id));
        }

        int RedisPid() => redis!.Id;

        async Task<double> AgentPortProbesAsync()
        {
            var text = await new HttpClient().GetStringAsync($"http://127.0.0.1:{agentPort}/metrics");
            return text.Split('\n').Where(l => l.StartsWith("redis_agent_probes_total{", StringComparison.Ordinal) && l.Contains("kind=\"port\"", StringComparison.Ordinal))
                .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
        }

        Process StartAgent(int redisPort, int httpPort, params (string Key, string Value)[] overrides)
        {
            var startInfo = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "redis-agent"));
            var settings = new Dictionary<string, string>
            {
                ["REDIS_URL"] = $"redis://127.0.0.1:{redisPort}",
                ["Restart__Driver"] = "none",
                ["Urls"] = $"http://127.0.0.1:{httpPort}",
                    ["Plan__Name"] = "premium-0",
                ["Logging__LogLevel__Default"] = "Warning",
            };
            foreach (var (key, value) in overrides)
            {
                settings[key] = value;
            }

            settings["Agent__StateDirectory"] = Path.Combine(work, "state-" + httpPort.ToString(CultureInfo.InvariantCulture));
            foreach (var (key, value) in settings)
            {
                startInfo.Environment[key] = value;
            }

            return Track(startInfo);
        }

        Process Start(string binary, string[] argv)
        {
            return Track(new ProcessStartInfo(binary, argv));
        }

        Process Track(ProcessStartInfo startInfo)
        {
            var process = StartDrained(startInfo);
            processes.Add(process);
            return process;
        }

        static async Task<string> WrkAsync(string url, int seconds, int concurrency)
        {
            string[] argv = ["-t", Str(Math.Min(2, concurrency)), "-c", Str(concurrency), "-d", Str(seconds) + "s", "--timeout", "10s", "--latency", url];
            using var wrk = Process.Start(new ProcessStartInfo("/usr/bin/wrk", argv) { RedirectStandardOutput = true, UseShellExecute = false })!;
            var output = await wrk.StandardOutput.ReadToEndAsync();
            await wrk.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(seconds + 60));
            return output;
        }

        /// <summary>A percentile of wrk's latency distribution (<c>99%    2.33ms</c>), in milliseconds.</summary>
        static double Millis(string output, string percentile)
        {
            var match = Regex.Match(output, Regex.Escape(percentile) + @"\s+([\d.]+)(us|ms|s)\b");
            if (!match.Success)
            {
                return double.NaN;
            }

            var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            return match.Groups[2].Value switch { "us" => value / 1000, "ms" => value, _ => value * 1000 };
        }

        static async Task PopulateAsync(int port)
        {
            // Some data, so INFO has a keyspace and commandstats: 10,000 keys of 100 bytes.
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port);
            var stream = client.GetStream();
            var batch = new StringBuilder();
            for (var i = 0; i < 10_000; i++)
            {
                var key = $"key:{i}";
                batch.Append(CultureInfo.InvariantCulture, $"*3\r\n$3\r\nSET\r\n${key.Length}\r\n{key}\r\n$100\r\n{new string('v', 100)}\r\n");
            }

            await stream.WriteAsync(Encoding.ASCII.GetBytes(batch.ToString()));
            var buffer = new byte[64 * 1024];
            var replies = 0;
            while (replies < 10_000)
            {
                var read = await stream.ReadAsync(buffer);
                replies += buffer.AsSpan(0, read).Count((byte)'\n');
            }
        }

        static async Task<double> InfoNumberAsync(int port, string field)
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port);
            var stream = client.GetStream();
            await stream.WriteAsync("*2\r\n$4\r\nINFO\r\n$3\r\nall\r\n"u8.ToArray());
            var text = new StringBuilder();
            var buffer = new byte[64 * 1024];
            while (!text.ToString().Contains("\r\n# Keyspace", StringComparison.Ordinal) || !text.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer);
                if (read == 0)
                {
                    break;
                }

                text.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }

            var match = Regex.Match(text.ToString(), field + @":([\d.]+)");
            return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        static double Number(string text, string pattern)
        {
            var match = Regex.Match(text, pattern);
            return match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : double.NaN;
        }

        static async Task WaitForPortAsync(int port)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                try
                {
                    using var client = new TcpClient();
                    await client.ConnectAsync(IPAddress.Loopback, port);
                    return;
                }
                catch (SocketException)
                {
                    await Task.Delay(50);
                }
            }

            throw new TimeoutException($"Nothing listens on 127.0.0.1:{port}.");
        }

        static async Task WaitForMetricsAsync(int port)
        {
            using var http = new HttpClient();
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                try
                {
                    var text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
                    if (text.Contains("redis_up 1", StringComparison.Ordinal))
                    {
                        return;
                    }
                }
                catch (HttpRequestException)
                {
                }

                await Task.Delay(100);
            }

            throw new TimeoutException($"No redis_up 1 on 127.0.0.1:{port}/metrics.");
        }




        static string Str(int value) => value.ToString(CultureInfo.InvariantCulture);

        void Report(List<Run> runs, Idle idle)
        {
            var md = new StringBuilder()
                .AppendLine(CultureInfo.InvariantCulture, $"metrics-scrape, wrk for {seconds} s per run, redis-server 7.0.15 with 10,000 keys, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm}Z, {Environment.ProcessorCount} cores").AppendLine()
                .AppendLine("| exporter | scrapers | scrapes (ok) | scrapes/s | p50 ms | p99 ms | Redis connections per scrape | CPU s per 1,000 scrapes | Redis CPU s per 1,000 scrapes | RSS MB after |")
                .AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var r in runs)
            {
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {r.Name} | {r.Concurrency} | {r.Requests} ({r.Ok}) | {r.PerSecond:0} | {r.P50Ms:0.00} | {r.P99Ms:0.00} | {r.ConnectionsPerScrape:0.000} | {r.CpuMsPer1000 / 1000:0.00} | {r.RedisCpuMsPer1000 / 1000:0.00} | {r.RssKb / 1024.0:0.0} |");
            }

            md.AppendLine();
            foreach (var concurrency in concurrencies)
            {
                var agent = runs.Single(r => r.Concurrency == concurrency && r.Name == "redis-agent");
                var exporter = runs.Single(r => r.Concurrency == concurrency && r.Name != "redis-agent");
                md.AppendLine(CultureInfo.InvariantCulture, $"- {concurrency} scrapers: the agent serves {agent.PerSecond / exporter.PerSecond:0.0}x the exporter's scrapes per second.");
            }

            md.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"Idle, nobody scraping, {idle.Seconds:0} s after a {warmupSeconds} s warm-up:")
                .AppendLine().AppendLine("| agent | CPU ms | % of one core |").AppendLine("|---|---:|---:|")
                .AppendLine(CultureInfo.InvariantCulture, $"| sampling and probing every 1 s (defaults) | {idle.AllMs} | {idle.AllPercent:0.000} |")
                .AppendLine(CultureInfo.InvariantCulture, $"| sampling every 1 s, no probes | {idle.SamplingMs} | {idle.SamplingPercent:0.000} |")
                .AppendLine(CultureInfo.InvariantCulture, $"| neither (the host, Kestrel, timers) | {idle.NoneMs} | {idle.NonePercent:0.000} |")
                .AppendLine().AppendLine(CultureInfo.InvariantCulture,
                    $"Sampling itself (INFO ALL and 5 CONFIG GET a second, parsed, applied): **{idle.SamplingOwnPercent:0.000}% of one core**. The agent's RSS after the storm: {idle.RssKb / 1024.0:0.0} MB.");
            var outDirectory = arguments.OutDirectory;
            Directory.CreateDirectory(outDirectory);
            File.WriteAllText(Path.Combine(outDirectory, "metrics-scrape.md"), md.ToString());
            File.WriteAllText(Path.Combine(outDirectory, "metrics-scrape.json"), JsonSerializer.Serialize(new { runs, idle }, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine(md);
        }
    }
}

internal sealed record Run(
    string Name, int Concurrency, long Ok, long Requests, double PerSecond, double P50Ms, double P99Ms,
    double ConnectionsPerScrape, double CpuMsPer1000, double RedisCpuMsPer1000, long RssKb);

internal sealed record Idle(
    double Seconds, long AllMs, double AllPercent, long NoneMs, double NonePercent, long SamplingMs, double SamplingPercent, double SamplingOwnPercent, long RssKb);
