using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using RedisAgent.Load.Harness;
using RedisAgent.Testing;

namespace RedisAgent.Load.Scenarios;

/// <summary>The agent's scenarios: /metrics, the log path, its cost to Redis, and its footprint at rest.</summary>
internal static class AgentScenarios
{
    /// <summary>Prometheus servers (and people) scraping /metrics at a constant rate, or a ramp.</summary>
    public static Scenario ScrapeStorm(Options options) =>
        Scenario.Create("scrape-storm", async context =>
            {
                var beside = context.Get<AgentBeside>("agent");
                using var response = await context.Get<HttpClient>("http").GetAsync(beside.Url("/metrics"), context.CancellationToken).ConfigureAwait(false);
                var body = await response.Content.ReadAsByteArrayAsync(context.CancellationToken).ConfigureAwait(false);
                return response.IsSuccessStatusCode && body.Length > 1000 ? Response.Ok(body.Length) : Response.Fail($"HTTP {(int)response.StatusCode}, {body.Length} bytes");
            })
            .WithDescription("GET /metrics of an agent beside an idle redis-server (Sampling:Interval 1 s), over up to 64 keep-alive connections. The agent renders once per sample and serves that from memory.")
            .WithInit(async context =>
            {
                context.Items["agent"] = await AgentBeside.StartAsync(options.AgentBinary).ConfigureAwait(false);
                context.Items["http"] = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { Timeout = TimeSpan.FromSeconds(10) };
            })
            .WithWarmUpDuration(TimeSpan.FromSeconds(2))
            .WithLoadSimulations(options.Rate(constant: 1000, rampFrom: 100, rampTo: 5000))
            .WithAfterRun(async context =>
            {
                var beside = context.Get<AgentBeside>("agent");
                beside.Measured.Report(context, "agent");
                var clients = await Resp.CommandAsync(beside.Redis.Host, beside.Redis.Port, "INFO", "clients").ConfigureAwait(false);
                context.Figure("Redis connections during the storm", clients.Split('\n').First(l => l.StartsWith("connected_clients:", StringComparison.Ordinal)).Split(':')[1].Trim() + " (the agent's one, and this INFO's)");
            })
            .WithClean(context => context.DisposeItemsAsync("http", "agent"));

    /// <summary>Redis's log lines, as fast as the rate says, through the agent to rsyslogd over TCP with two live tails attached.</summary>
    public static Scenario LogFirehose(Options options) =>
        Scenario.Create("log-firehose", async context =>
            {
                var firehose = context.Get<Firehose>("firehose");
                var sequence = context.NextInvocation();
                var arrived = firehose.Expect(sequence);
                await firehose.WriteAsync(sequence).ConfigureAwait(false);
                var done = await Task.WhenAny(arrived, Task.Delay(TimeSpan.FromSeconds(10), context.CancellationToken)).ConfigureAwait(false);
                return done == arrived ? Response.Ok(120) : Response.Fail("not on the live tail within 10 s");
            })
            .WithDescription("Each step appends one Redis-format line to the log file the agent follows (Logs:File), and waits for it on a live tail (GET /logs?tail=true, like heroku logs -t); a second tail and an rsyslogd TCP drain take every line too. Latency: written until read from the tail.")
            .WithInit(async context =>
            {
                var rsyslog = await RsyslogServer.StartAsync().ConfigureAwait(false);
                context.Items["rsyslog"] = rsyslog;
                var file = Path.Combine(Path.GetTempPath(), $"load-firehose-{Environment.ProcessId}.log");
                await File.WriteAllTextAsync(file, "").ConfigureAwait(false);
                var beside = await AgentBeside.StartAsync(options.AgentBinary, new Dictionary<string, string>
                {
                    ["Logs__File"] = file,
                    ["Logs__Resource"] = "load",
                    ["Logs__Syslog__Url"] = rsyslog.TcpUrl,
                    ["Logs__FilePollInterval"] = "00:00:00.050",
                    ["Metrics__LogInterval"] = "0",
                }).ConfigureAwait(false);
                context.Items["agent"] = beside;
                var firehose = new Firehose(file, beside);
                context.Items["firehose"] = firehose;
                await firehose.AttachTailsAsync().ConfigureAwait(false);
            })
            .WithWarmUpDuration(TimeSpan.FromSeconds(2))
            .WithLoadSimulations(options.Rate(constant: 5000, rampFrom: 1000, rampTo: 20000))
            .WithAfterRun(async context =>
            {
                var beside = context.Get<AgentBeside>("agent");
                var firehose = context.Get<Firehose>("firehose");
                var rsyslog = context.Get<RsyslogServer>("rsyslog");
                beside.Measured.Report(context, "agent");
                var written = firehose.Written;
                var received = 0;
                await Poll.UntilAsync(() => (received = rsyslog.Lines.Count(l => l.Contains("load seq=", StringComparison.Ordinal))) >= written, TimeSpan.FromSeconds(30), () => "rsyslogd gets every line").ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
                context.Figure("lines written (warm-up included)", written.ToString(CultureInfo.InvariantCulture));
                context.Figure("lines at the rsyslogd drain", received.ToString(CultureInfo.InvariantCulture));
                context.Figure("lines at the second live tail", firehose.SecondTail.ToString(CultureInfo.InvariantCulture));
            })
            .WithClean(context => context.DisposeItemsAsync("firehose", "agent", "rsyslog"));

    /// <summary>redis-benchmark's throughput with the agent probing and sampling, against the same with the agent stopped (SIGSTOP), alternately.</summary>
    public static Scenario RedisOverhead(Options options) =>
        Scenario.Create("redis-overhead", async context =>
            {
                var beside = context.Get<AgentBeside>("agent");
                var round = context.NextInvocation();
                var withAgent = round % 2 == 1;
                if (!withAgent)
                {
                    Signals.Send(beside.Agent.ProcessId, Signals.SigStop);
                }

                try
                {
                    var opsPerSecond = await BenchmarkAsync(beside.Redis.Port, options.Long ? 400_000 : 200_000).ConfigureAwait(false);
                    context.Get<ConcurrentBag<(bool, double)>>("rounds").Add((withAgent, opsPerSecond));
                    return Response.Ok();
                }
                finally
                {
                    Signals.Send(beside.Agent.ProcessId, Signals.SigCont);
                }
            })
            .WithDescription("redis-benchmark -t set,get -c 50 -P 16 against a redis-server, in rounds that alternate: the agent stopped (SIGSTOP: no probe, no sampling) and the agent running with its defaults (a probe and an INFO + CONFIG sample every second). One step is one round.")
            .WithInit(async context =>
            {
                context.Items["agent"] = await AgentBeside.StartAsync(options.AgentBinary, new Dictionary<string, string> { ["Metrics__LogInterval"] = "0" }).ConfigureAwait(false);
                context.Items["rounds"] = new ConcurrentBag<(bool, double)>();
            })
            .WithLoadSimulations(new LoadSimulation.KeepConstant(1, options.Duration * 2))
            .WithAfterRun(context =>
            {
                var rounds = context.Get<ConcurrentBag<(bool WithAgent, double Ops)>>("rounds").ToList();
                var without = Median(rounds.Where(r => !r.WithAgent).Select(r => r.Ops));
                var with = Median(rounds.Where(r => r.WithAgent).Select(r => r.Ops));
                context.Figure("rounds", $"{rounds.Count(r => !r.WithAgent)} without the agent, {rounds.Count(r => r.WithAgent)} with it");
                context.Figure("median ops/s, agent stopped", without.ToString("0", CultureInfo.InvariantCulture));
                context.Figure("median ops/s, agent running", with.ToString("0", CultureInfo.InvariantCulture));
                string Spread(IEnumerable<double> ops) => ops.Any() ? string.Create(CultureInfo.InvariantCulture, $"{ops.Min():0} to {ops.Max():0}") : "-";
                context.Figure("spread of single rounds, agent stopped", Spread(rounds.Where(r => !r.WithAgent).Select(r => r.Ops)));
                context.Figure("spread of single rounds, agent running", Spread(rounds.Where(r => r.WithAgent).Select(r => r.Ops)));
                context.Figure("throughput lost to the agent", string.Create(CultureInfo.InvariantCulture, $"{(without - with) / without * 100:0.##}% (target: under 1%)"));
                return Task.CompletedTask;
            })
            .WithClean(context => context.DisposeItemsAsync("agent"));

    /// <summary>The agent beside an idle Redis: what it costs at rest, and how soon it is up.</summary>
    /// <param name="drain">Also ship Redis's lines to a TCP syslog drain (a listener here that reads and discards), as a deployed agent does.</param>
    public static Scenario AtRest(Options options, string name, string binary, bool drain = false) =>
        Scenario.Create(name, async context =>
            {
                var beside = context.Get<AgentBeside>("agent");
                using var response = await context.Get<HttpClient>("http").GetAsync(beside.Url("/healthz"), context.CancellationToken).ConfigureAwait(false);
                return response.IsSuccessStatusCode ? Response.Ok() : Response.Fail($"HTTP {(int)response.StatusCode}");
            })
            .WithDescription($"The agent ({binary}) beside an idle redis-server with its defaults: a probe and a sample every second{(drain ? ", and a TCP syslog drain connected" : ", nothing else")}. One /healthz a second, as a liveness check would.")
            .WithInit(async context =>
            {
                var clock = Stopwatch.StartNew();
                var extra = new Dictionary<string, string>();
                if (drain)
                {
                    var sink = DiscardingDrain.Start();
                    context.Items["drain"] = sink;
                    extra["Logs__Syslog__Url"] = $"tcp://127.0.0.1:{sink.Port}";
                }

                var beside = await AgentBeside.StartAsync(binary, extra).ConfigureAwait(false);
                context.Figure("start until /metrics says redis_up 1", $"{clock.Elapsed.TotalMilliseconds:0} ms");
                context.Items["agent"] = beside;
                context.Items["http"] = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
                // Settle: the first seconds include the JIT.
                await Task.Delay(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
                beside.Measured.Reset();
            })
            .WithLoadSimulations(new LoadSimulation.Inject(1, options.Duration * 2))
            .WithAfterRun(context =>
            {
                context.Get<AgentBeside>("agent").Measured.Report(context, "agent");
                return Task.CompletedTask;
            })
            .WithClean(context => context.DisposeItemsAsync("http", "agent", "drain"));

    private static async Task<double> BenchmarkAsync(int port, int requests)
    {
        using var process = LoadProcesses.StartDrainedWithOutput(new ProcessStartInfo("redis-benchmark",
            ["-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-t", "set,get", "-n", requests.ToString(CultureInfo.InvariantCulture), "-c", "50", "-P", "16", "--csv"]), out var output);
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2)).ConfigureAwait(false);
        // "SET","312500.00",...  and "GET","...": the two throughputs, summed.
        return output.ToString().Split('\n')
            .Select(l => l.Split(','))
            .Where(f => f.Length > 1 && f[0] is "\"SET\"" or "\"GET\"")
            .Sum(f => double.Parse(f[1].Trim('"'), CultureInfo.InvariantCulture));
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>The firehose's writer and its two live tails.</summary>
    private sealed class Firehose(string file, AgentBeside agent) : IAsyncDisposable
    {
        private readonly ConcurrentDictionary<long, TaskCompletionSource> _pending = new();
        private readonly StreamWriter _writer = new(new FileStream(file, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = false };
        private readonly SemaphoreSlim _lock = new(1, 1);
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Task> _tails = [];
        private long _written;
        private long _secondTail;

        public long Written => Interlocked.Read(ref _written);

        public long SecondTail => Interlocked.Read(ref _secondTail);

        public async Task AttachTailsAsync()
        {
            var ready = new[] { new TaskCompletionSource(), new TaskCompletionSource() };
            _tails.Add(TailAsync(first: true, ready[0]));
            _tails.Add(TailAsync(first: false, ready[1]));
            await Task.WhenAll(ready.Select(r => r.Task)).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }

        public Task Expect(long sequence) => _pending.GetOrAdd(sequence, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

        public async Task WriteAsync(long sequence)
        {
            await _lock.WaitAsync().ConfigureAwait(false);
            try
            {
                await _writer.WriteAsync(string.Create(CultureInfo.InvariantCulture, $"4242:M {DateTime.UtcNow:dd MMM yyyy HH:mm:ss.fff} * load seq={sequence} the quick brown fox jumps over the lazy dog\n")).ConfigureAwait(false);
                await _writer.FlushAsync().ConfigureAwait(false);
                Interlocked.Increment(ref _written);
            }
            finally
            {
                _lock.Release();
            }
        }

        private async Task TailAsync(bool first, TaskCompletionSource ready)
        {
            using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
            using var response = await http.GetAsync(agent.Url("/logs?tail=true&source=redis&num=0"), HttpCompletionOption.ResponseHeadersRead, _stop.Token).ConfigureAwait(false);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(_stop.Token).ConfigureAwait(false), Encoding.UTF8);
            ready.TrySetResult();
            try
            {
                while (await reader.ReadLineAsync(_stop.Token).ConfigureAwait(false) is { } line)
                {
                    var at = line.IndexOf("load seq=", StringComparison.Ordinal);
                    if (at < 0)
                    {
                        continue;
                    }

                    if (!first)
                    {
                        Interlocked.Increment(ref _secondTail);
                        continue;
                    }

                    var end = line.IndexOf(' ', at + 9);
                    if (long.TryParse(line.AsSpan(at + 9, (end < 0 ? line.Length : end) - at - 9), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
                    {
                        _pending.GetOrAdd(sequence, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                        _pending.TryRemove(sequence, out _);
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(_tails.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default))).ConfigureAwait(false);
            await _writer.DisposeAsync().ConfigureAwait(false);
            _lock.Dispose();
            _stop.Dispose();
            File.Delete(file);
        }
    }
}

/// <summary>A syslog drain that accepts one connection at a time and discards what it reads.</summary>
internal sealed class DiscardingDrain : IAsyncDisposable
{
    private readonly System.Net.Sockets.TcpListener _listener = new(System.Net.IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    public int Port => ((System.Net.IPEndPoint)_listener.LocalEndpoint).Port;

    public static DiscardingDrain Start()
    {
        var drain = new DiscardingDrain();
        drain._listener.Start();
        drain._loop = drain.RunAsync();
        return drain;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        await _loop.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var buffer = new byte[64 * 1024];
        while (!_stop.IsCancellationRequested)
        {
            using var client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            var stream = client.GetStream();
            while (await stream.ReadAsync(buffer, _stop.Token).ConfigureAwait(false) > 0)
            {
            }
        }
    }
}
