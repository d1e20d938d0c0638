using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using RedisAgent.Load;
using static RedisAgent.Load.LoadProcesses;

namespace RedisAgent.Load.Benchmarks.LogThroughput;

// log-throughput: N lines appended to a file as fast as a writer can, delivered to a TCP syslog
// receiver (octet-counted) by the agent, then by rsyslog (imfile -> omfwd), same file size, same
// receiver. Then the agent's memory with a drain that never reads.
//
//   load/run log-throughput [--lines 200000] [--agent-binary path, e.g. a NativeAOT build] [--out load/results]
internal static class LogThroughputBenchmark
{
    public const string Name = "log-throughput";

    public static async Task<int> RunAsync(string[] args)
    {
        var arguments = new LoadArguments(args);
        var lines = arguments.Int("--lines", 200_000);
        var queue = arguments.Int("--queue", 10_000);
        var work = Directory.CreateTempSubdirectory("log-firehose-").FullName;
        var agentBinary = arguments.Text("--agent-binary", Path.Combine(AppContext.BaseDirectory, "redis-agent"));
        var results = new List<Result>();
        try
        {
            results.Add(await RunAsync("redis-agent (file tailer -> syslog tcp)", StartAgent));
            results.Add(await RunAsync("rsyslogd 8.2302 (imfile -> omfwd tcp, octet-counted)", StartRsyslog));
            var stalled = await StalledDrainAsync();
            Report(results, stalled);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }

        return 0;

        async Task<Result> RunAsync(string name, Func<string, int, Process> start)
        {
            var file = Path.Combine(work, Guid.NewGuid().ToString("N")[..8] + ".log");
            await File.WriteAllTextAsync(file, "");
            using var receiver = new FrameCounter();
            using var process = start(file, receiver.Port);
            try
            {
                await Task.Delay(1500); // let it open the file and the connection
                var cpuBefore = CpuMs(process.Id);
                var clock = Stopwatch.StartNew();
                await WriteLinesAsync(file, lines);
                var written = clock.Elapsed;
                await receiver.WaitForAsync(lines, idle: TimeSpan.FromSeconds(3), limit: TimeSpan.FromMinutes(5));
                var delivered = receiver.Frames;
                var seconds = receiver.LastFrameElapsed(clock).TotalSeconds;
                return new Result(name, delivered, seconds, delivered / seconds, CpuMs(process.Id) - cpuBefore, PeakRssKb(process.Id), written.TotalSeconds);
            }
            finally
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }

        async Task<(long RssAfterHalfKb, long RssAfterAllKb, long PeakKb)> StalledDrainAsync()
        {
            var file = Path.Combine(work, "stalled.log");
            await File.WriteAllTextAsync(file, "");
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Server.ReceiveBufferSize = 4096;
            listener.Start();
            using var process = StartAgent(file, ((IPEndPoint)listener.LocalEndpoint).Port);
            using var stalled = await listener.AcceptSocketAsync();
            try
            {
                await WriteLinesAsync(file, lines / 2);
                await Task.Delay(2000);
                var half = RssKb(process.Id);
                await WriteLinesAsync(file, lines / 2);
                await Task.Delay(2000);
                return (half, RssKb(process.Id), PeakRssKb(process.Id));
            }
            finally
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }

        Process StartAgent(string file, int port)
        {
            var startInfo = new ProcessStartInfo(agentBinary);
            startInfo.Environment.Remove("REDIS_URL");
            var settings = new Dictionary<string, string>
            {
                ["REDIS_URL"] = $"redis://127.0.0.1:{FreePort()}",
                ["Restart__Driver"] = "none",
                ["Urls"] = "http://127.0.0.1:0",
                ["Agent__StateDirectory"] = Path.Combine(work, "state"),
                ["Logs__File"] = file,
                ["Logs__Resource"] = "firehose",
                ["Logs__RedisTimeZone"] = "Etc/UTC",
                ["Logs__Syslog__Url"] = $"tcp://127.0.0.1:{port}",
                ["Logs__Syslog__QueueCapacity"] = queue.ToString(CultureInfo.InvariantCulture),
                ["Logging__LogLevel__Default"] = "Warning",
            };
            foreach (var (key, value) in settings)
            {
                startInfo.Environment[key] = value;
            }

            return StartDrained(startInfo);
        }

        Process StartRsyslog(string file, int port)
        {
            var directory = Path.Combine(work, "rsyslog-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(directory);
            var config = Path.Combine(directory, "rsyslog.conf");
            File.WriteAllText(config, $"""
                global(workDirectory="{directory}")
                module(load="imfile" mode="inotify")
                input(type="imfile" File="{file}" Tag="redis" Facility="local0" Severity="notice")
                action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
                """);
            return StartDrained(new ProcessStartInfo("/usr/sbin/rsyslogd", ["-n", "-f", config, "-i", Path.Combine(directory, "pid")]));
        }

        static async Task WriteLinesAsync(string file, int count)
        {
            await using var stream = new FileStream(file, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            var batch = new StringBuilder();
            for (var i = 0; i < count; i++)
            {
                batch.Append(CultureInfo.InvariantCulture, $"4242:M 26 Nov 2026 09:30:{i % 60:00}.{i % 1000:000} * line {i:0000000} of the firehose, about a hundred bytes long all told\n");
                if (i % 1000 == 999)
                {
                    await stream.WriteAsync(Encoding.UTF8.GetBytes(batch.ToString()));
                    await stream.FlushAsync();
                    batch.Clear();
                }
            }

            await stream.WriteAsync(Encoding.UTF8.GetBytes(batch.ToString()));
        }






        void Report(List<Result> results, (long Half, long All, long Peak) stalled)
        {
            var md = new StringBuilder()
                .AppendLine(CultureInfo.InvariantCulture, $"log-firehose, {lines} lines of ~100 bytes, agent drain queue {queue} lines, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm}Z, {Environment.ProcessorCount} cores").AppendLine()
                .AppendLine("| pipeline | delivered | seconds | lines/s | CPU ms | CPU µs per line | peak RSS MB |")
                .AppendLine("|---|---:|---:|---:|---:|---:|---:|");
            foreach (var r in results)
            {
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {r.Name} | {r.Delivered} | {r.Seconds:0.00} | {r.LinesPerSecond:0} | {r.CpuMs} | {r.CpuMs * 1000.0 / Math.Max(1, r.Delivered):0.0} | {r.PeakRssKb / 1024.0:0.0} |");
            }

            md.AppendLine().AppendLine(CultureInfo.InvariantCulture,
                $"Stalled drain (never read): agent RSS {stalled.Half / 1024.0:0.0} MB after {lines / 2} lines, {stalled.All / 1024.0:0.0} MB after {lines}; peak {stalled.Peak / 1024.0:0.0} MB.");
            var outDirectory = arguments.OutDirectory;
            Directory.CreateDirectory(outDirectory);
            File.WriteAllText(Path.Combine(outDirectory, $"log-firehose-q{queue}.md"), md.ToString());
            File.WriteAllText(Path.Combine(outDirectory, $"log-firehose-q{queue}.json"), JsonSerializer.Serialize(new { results, stalled_half_kb = stalled.Half, stalled_all_kb = stalled.All }, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine(md);
        }
    }
}

internal sealed record Result(string Name, long Delivered, double Seconds, double LinesPerSecond, long CpuMs, long PeakRssKb, double WriteSeconds);

/// <summary>A TCP syslog receiver that counts octet-counted frames and notes when the last one came.</summary>
internal sealed class FrameCounter : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Stopwatch _sinceStart = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stop = new();
    private long _frames;
    private long _lastFrameTicks;

    public FrameCounter()
    {
        _listener.Start();
        _ = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public long Frames => Interlocked.Read(ref _frames);

    public TimeSpan LastFrameAt => TimeSpan.FromTicks(Interlocked.Read(ref _lastFrameTicks));

    /// <summary>When the last frame came, measured on <paramref name="clock"/> (started at the first write).</summary>
    public TimeSpan LastFrameElapsed(Stopwatch clock) => clock.Elapsed - (_sinceStart.Elapsed - LastFrameAt);

    public async Task WaitForAsync(long count, TimeSpan idle, TimeSpan limit)
    {
        var deadline = Stopwatch.StartNew();
        while (Frames < count && deadline.Elapsed < limit && (Frames == 0 || _sinceStart.Elapsed - LastFrameAt < idle))
        {
            await Task.Delay(20);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token);
                _ = ReadAsync(socket);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task ReadAsync(Socket socket)
    {
        using (socket)
        {
            var buffer = new byte[256 * 1024];
            var pending = 0L; // bytes of the current frame still to skip
            var length = 0L;
            var inLength = true;
            try
            {
                int read;
                while ((read = await socket.ReceiveAsync(buffer, _stop.Token)) > 0)
                {
                    for (var i = 0; i < read; i++)
                    {
                        if (inLength)
                        {
                            if (buffer[i] == (byte)' ')
                            {
                                inLength = false;
                                pending = length;
                                length = 0;
                                if (pending == 0)
                                {
                                    Count();
                                    inLength = true;
                                }
                            }
                            else
                            {
                                length = (length * 10) + (buffer[i] - (byte)'0');
                            }
                        }
                        else
                        {
                            var skip = Math.Min(pending, read - i);
                            pending -= skip;
                            i += (int)skip - 1;
                            if (pending == 0)
                            {
                                Count();
                                inLength = true;
                            }
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException)
            {
            }
        }
    }

    private void Count()
    {
        Interlocked.Increment(ref _frames);
        Interlocked.Exchange(ref _lastFrameTicks, _sinceStart.Elapsed.Ticks);
    }
}
