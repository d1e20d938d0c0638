using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using RedisAgent.Load.Harness;
using RedisAgent.Testing;
using RedisFailover.Protos;

namespace RedisAgent.Load.Scenarios;

/// <summary>
/// A redis-failover process and thousands of simulated agents (three per resource), each holding
/// its stream and reporting once a second; the coordinator acknowledges each report once applied.
/// Meanwhile one resource's primary is lost, and the time the coordinator takes to promote its
/// standby is compared with the same decision taken with no load.
/// </summary>
internal static class FleetScenario
{
    private const string Token = "load-token-0123456789abcdef";

    public static Scenario Create(Options options)
    {
        var window = options.FleetWindow;
        return Scenario.Create("coordinator-fleet", async context =>
            {
                var fleet = context.Get<Fleet>("fleet");
                var n = context.NextInvocation();
                return await fleet.ReportAsync(n).ConfigureAwait(false) ? Response.Ok() : Response.Fail("no ReportAck within 5 s");
            })
            .WithDescription($"redis-failover ({options.FailoverBinary ?? "this build's, JIT"}) with {options.Agents} simulated agents ({options.Agents / 3} resources of three nodes, window {window.TotalSeconds:0} s, rounds of 1 s, restart leases renewed every {window.TotalSeconds / 6:0.#} s), their streams multiplexed 100 to an HTTP/2 connection. Each step is one agent's report; the rate is one report per agent per second. Latency: the report sent until the coordinator's ReportAck (sent once the report is applied to the resource's state machine). {(options.LeanReports ? "Reports lean: the enums and offsets only." : "Reports as a real agent's: every field, the previous release's names, version, persistence and plan use included.")}{(options.FleetWarmUp > TimeSpan.Zero ? $" The load ran {options.FleetWarmUp.TotalSeconds:0} s before the measured part (a warm-up, not counted)." : "")}")
            .WithInit(async context =>
            {
                var fleet = await Fleet.StartAsync(options.Agents, window, context, options.FleetStore == "etcd", options.FailoverBinary, options.LeanReports).ConfigureAwait(false);
                context.Items["fleet"] = fleet;
                // Resource 1's primary lost with no load running: the decision time to compare with.
                var atRest = await fleet.LosePrimaryAsync(1).ConfigureAwait(false);
                context.Figure("failover decision, no load (resource 1)", $"{atRest.TotalSeconds:0.00} s (window {window.TotalSeconds:0} s + the last round)");
            })
            .WithWarmUpDuration(options.FleetWarmUp)
            .WithAfterWarmUp(async context =>
            {
                // What is measured starts here, after the warm-up if there is one.
                var fleet = context.Get<Fleet>("fleet");
                fleet.Coordinator.Reset();
                fleet.Generator.Reset();
                context.Items["coordinator-gc"] = await fleet.CollectionsAsync().ConfigureAwait(false);
                context.Items["etcd-revision"] = await fleet.EtcdRevisionAsync().ConfigureAwait(false) ?? -1;
                context.Items["etcd-clock"] = Stopwatch.StartNew();
                // Resource 0's primary lost halfway through the load.
                context.Items["under-load"] = Task.Run(async () =>
                {
                    await Task.Delay(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                    return await fleet.LosePrimaryAsync(0).ConfigureAwait(false);
                });
            })
            // Long enough that the whole decision (window + a round, from 2 s in) happens under the load.
            .WithLoadSimulations(new LoadSimulation.Inject(options.Agents, options.Duration > window * 1.5 ? options.Duration : window * 1.5))
            .WithAfterRun(async context =>
            {
                var fleet = context.Get<Fleet>("fleet");
                fleet.Coordinator.Report(context, "redis-failover");
                var gcBefore = context.Get<CoordinatorCollections>("coordinator-gc");
                var gcAfter = await fleet.CollectionsAsync().ConfigureAwait(false);
                var gcSeconds = gcAfter.At - gcBefore.At;
                var gen0 = gcAfter.Gen0 - gcBefore.Gen0;
                var paused = (gcAfter.PauseSeconds - gcBefore.PauseSeconds) * 1000;
                context.Figure("redis-failover GC (its /metrics)", string.Create(CultureInfo.InvariantCulture,
                    $"{gen0:0} gen0, {gcAfter.Gen1 - gcBefore.Gen1:0} gen1, {gcAfter.Gen2 - gcBefore.Gen2:0} gen2 collections; {paused:0} ms paused ({(gen0 > 0 ? paused / gen0 : 0):0} ms a collection); {(gcAfter.Allocated - gcBefore.Allocated) / gcSeconds / 1_048_576:0.0} MB allocated a second over {gcSeconds:0} s"));
                fleet.Generator.Report(context, "load generator (this process: the simulated agents and the harness)");
                var underLoad = await context.Get<Task<TimeSpan>>("under-load").ConfigureAwait(false);
                context.Figure("failover decision, under the load (resource 0)", $"{underLoad.TotalSeconds:0.00} s");
                context.Figure("agents connected at the end", fleet.Connected.ToString(CultureInfo.InvariantCulture));
                context.Figure("commands answered (leases, probes, promotions)", fleet.Commands.ToString(CultureInfo.InvariantCulture));
                var before = context.Get<long>("etcd-revision");
                if (before >= 0 && await fleet.EtcdRevisionAsync().ConfigureAwait(false) is { } revision)
                {
                    // Every etcd write (a transaction that wrote) raises the revision by one.
                    var seconds = context.Get<Stopwatch>("etcd-clock").Elapsed.TotalSeconds;
                    context.Figure("etcd writes during the load", $"{revision - before} in {seconds:0} s ({(revision - before) / seconds:0.0} a second, against {options.Agents} reports a second; one failover, its journal and the fleet's in-sync records in that time)");
                }
            })
            .WithClean(context => context.DisposeItemsAsync("fleet"));
    }

    /// <summary>The coordinator's GC figures at one moment (<see cref="At"/>: seconds on this process's clock).</summary>
    private sealed record CoordinatorCollections(double At, double Gen0, double Gen1, double Gen2, double PauseSeconds, double Allocated);

    private sealed class Fleet : IAsyncDisposable
    {
        private readonly List<SimulatedAgent> _agents = [];
        private readonly List<GrpcChannel> _channels = [];
        // Kestrel allows 100 streams a connection, which the agents' channels fill: the admin calls get their own.
        private GrpcChannel _admin = null!;
        private readonly ConcurrentDictionary<long, PendingAck> _acks = new();
        private readonly CancellationTokenSource _sweeping = new();
        private Task _sweeper = Task.CompletedTask;
        private readonly TempDirectory _directory = new("load-fleet");
        private AgentProcess _process = null!;
        private long _commands;
        private readonly string _metricsUrl = $"http://127.0.0.1:{LoopbackPorts.Free()}";

        public Measured Coordinator { get; private set; } = null!;

        /// <summary>Reports with the enums and offsets only, not every field a real agent sends.</summary>
        public bool LeanReports { get; private init; }

        public Measured Generator { get; } = new(Environment.ProcessId);

        public long Commands => Interlocked.Read(ref _commands);

        public int Connected => _agents.Count(a => a.Open);

        private int Resources => _agents.Count / 3;

        private EtcdCluster? _etcd;

        /// <summary>The coordinator's collections, paused time and allocated bytes so far, from its /metrics.</summary>
        public async Task<CoordinatorCollections> CollectionsAsync()
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var text = await http.GetStringAsync(new Uri(_metricsUrl + "/metrics")).ConfigureAwait(false);
            double Value(string series)
            {
                var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal))
                    ?? throw new InvalidOperationException($"the coordinator's /metrics has no {series}");
                return double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
            }

            return new CoordinatorCollections(
                Stopwatch.GetElapsedTime(0).TotalSeconds,
                Value("dotnet_collection_count_total{generation=\"0\"}"),
                Value("dotnet_collection_count_total{generation=\"1\"}"),
                Value("dotnet_collection_count_total{generation=\"2\"}"),
                Value("dotnet_gc_pause_seconds_total"),
                Value("dotnet_gc_allocated_bytes_total"));
        }

        /// <summary>etcd's revision now (every write raises it by one); null with the file store.</summary>
        public async Task<long?> EtcdRevisionAsync()
        {
            if (_etcd is null)
            {
                return null;
            }

            var start = new ProcessStartInfo("/usr/bin/etcdctl", ["--endpoints", _etcd.ClientUrls[0], "endpoint", "status", "-w", "json"]) { RedirectStandardOutput = true, UseShellExecute = false };
            using var process = Process.Start(start)!;
            var text = await process.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
            await process.WaitForExitAsync().ConfigureAwait(false);
            using var json = JsonDocument.Parse(text);
            return json.RootElement[0].GetProperty("Status").GetProperty("header").GetProperty("revision").GetInt64();
        }

        public static async Task<Fleet> StartAsync(int agents, TimeSpan window, ScenarioContext context, bool etcd = false, string? binary = null, bool lean = false)
        {
            var fleet = new Fleet { LeanReports = lean };
            var resources = agents / 3;
            fleet._etcd = etcd ? await EtcdCluster.StartClusterAsync().ConfigureAwait(false) : null;
            var config = new
            {
                Failover = new
                {
                    Token,
                    Window = window.ToString("c", CultureInfo.InvariantCulture),
                    RoundInterval = "00:00:01",
                    StoreDirectory = fleet._directory.File("store"),
                    Store = etcd ? "etcd" : "file",
                    Etcd = new { Endpoints = fleet._etcd?.Endpoints ?? "", Prefix = "/fleet" },
                },
                Resources = Enumerable.Range(0, resources).Select(r => new
                {
                    Name = $"r{r}",
                    Nodes = Enumerable.Range(0, 3).Select(k => new { Name = $"r{r}n{k}", Address = Address(r, k), Zone = $"z{k}" }).ToArray(),
                }).ToArray(),
            };
            var file = fleet._directory.File("fleet.json");
            await File.WriteAllTextAsync(file, JsonSerializer.Serialize(config)).ConfigureAwait(false);
            var port = LoopbackPorts.Free();
            var environment = new Dictionary<string, string>
            {
                ["REDIS_FAILOVER_CONFIG"] = file,
                ["Urls"] = $"http://127.0.0.1:{port}",
                ["Logging__LogLevel__Default"] = "Warning",
                ["Sentinel__Urls"] = "",
                // Its collections, paused time and allocations are read from here before and after the load.
                ["Failover__MetricsUrl"] = fleet._metricsUrl,
            };
            foreach (var (key, value) in CoordinatorRuntimeSettings())
            {
                environment[key] = value;
            }

            fleet._process = AgentProcess.StartBinary(binary ?? Path.Combine(AppContext.BaseDirectory, "redis-failover"), environment);
            fleet.Coordinator = new Measured(fleet._process.ProcessId);
            try
            {
                await fleet.BringUpAsync(agents, port, context).ConfigureAwait(false);
                return fleet;
            }
            catch
            {
                // A fleet that never came up is stopped, coordinator included, not left behind.
                await fleet.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        private async Task BringUpAsync(int agents, int port, ScenarioContext context)
        {
            var fleet = this;
            var resources = agents / 3;
            var clock = Stopwatch.StartNew();
            fleet._sweeper = Task.Run(fleet.SweepAsync);
            fleet._admin = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
            for (var c = 0; c < (agents + 99) / 100; c++)
            {
                fleet._channels.Add(GrpcChannel.ForAddress($"http://127.0.0.1:{port}", new GrpcChannelOptions
                {
                    HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false, KeepAlivePingDelay = TimeSpan.FromSeconds(10), KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always },
                }));
            }

            await Poll.UntilAsync(async () =>
            {
                try
                {
                    await new Admin.AdminClient(fleet._admin).GetStatusAsync(new ResourceRequest { Resource = "r0" }, Headers()).ConfigureAwait(false);
                    return true;
                }
                catch (RpcException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(60), () => "redis-failover answers\n" + fleet._process.Output).ConfigureAwait(false);

            for (var r = 0; r < resources; r++)
            {
                for (var k = 0; k < 3; k++)
                {
                    fleet._agents.Add(new SimulatedAgent(fleet, r, k, fleet._channels[fleet._agents.Count / 100]));
                }
            }

            // Connect and report once each, a few hundred at a time; then every resource is Healthy.
            foreach (var batch in fleet._agents.Chunk(250))
            {
                await Task.WhenAll(batch.Select(a => a.ConnectAsync())).ConfigureAwait(false);
                await Task.WhenAll(batch.Select(a => fleet.AckedAsync(a, -1 - a.Index))).ConfigureAwait(false);
            }

            await Poll.UntilAsync(async () =>
            {
                try
                {
                    return (await new Admin.AdminClient(fleet._admin).GetStatusAsync(new ResourceRequest { Resource = $"r{resources - 1}" }, Headers()).ConfigureAwait(false)).State == ResourceState.Healthy;
                }
                catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.FailedPrecondition)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(120), () => "the last resource Healthy\n" + string.Join('\n', fleet._process.Output.Split('\n')
                // Without the 1,666 "primary is" lines of each take-up, which would hide why it took up again.
                .Where(line => !line.Contains("[2020]", StringComparison.Ordinal)).TakeLast(30))).ConfigureAwait(false);
            context.Figure("fleet up (processes, streams, first reports)", $"{clock.Elapsed.TotalSeconds:0.0} s for {agents} agents over {fleet._channels.Count} connections");
        }

        /// <summary>One report of agent <paramref name="n"/> mod the fleet (resources 0 and 1 are the failover's), acknowledged?</summary>
        public async Task<bool> ReportAsync(long n)
        {
            var agent = _agents[6 + (int)(n % (_agents.Count - 6))];
            return await AckedAsync(agent, n + 1).ConfigureAwait(false);
        }

        private async Task<bool> AckedAsync(SimulatedAgent agent, long sequence)
        {
            // No timer a report: 5,000 reports a second each holding a 5 s timer kept 25,000 of them
            // alive, and the generator's collections (which stop its pacing too) grew with them. One
            // sweep a quarter second fails what has waited 5 s.
            var ack = _acks.GetOrAdd(sequence, _ => new PendingAck(Stopwatch.GetTimestamp()));
            agent.Send(new AgentMessage { Report = agent.Report(sequence, lostPrimary: false) });
            var acknowledged = await ack.Done.Task.ConfigureAwait(false);
            _acks.TryRemove(sequence, out _);
            return acknowledged;
        }

        private async Task SweepAsync()
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
            while (await timer.WaitForNextTickAsync(_sweeping.Token).ConfigureAwait(false))
            {
                foreach (var (_, pending) in _acks)
                {
                    if (Stopwatch.GetElapsedTime(pending.Sent) > TimeSpan.FromSeconds(5))
                    {
                        pending.Done.TrySetResult(false);
                    }
                }
            }
        }

        /// <summary>Resource <paramref name="r"/>'s primary goes silent: its stream closes, its two peers report it unreachable until one is told to promote.</summary>
        public async Task<TimeSpan> LosePrimaryAsync(int r)
        {
            var primary = _agents[r * 3];
            var vantages = new[] { _agents[(r * 3) + 1], _agents[(r * 3) + 2] };
            foreach (var v in vantages)
            {
                v.PrimaryLost = true;
            }

            var clock = Stopwatch.StartNew();
            await primary.CloseAsync().ConfigureAwait(false);
            while (!vantages.Any(v => v.Promoted.Task.IsCompleted) && clock.Elapsed < TimeSpan.FromSeconds(90))
            {
                foreach (var v in vantages)
                {
                    v.Send(new AgentMessage { Report = v.Report(0, lostPrimary: true) });
                }

                await Task.WhenAny(Task.WhenAny(vantages.Select(v => v.Promoted.Task)), Task.Delay(250)).ConfigureAwait(false);
            }

            return vantages.Any(v => v.Promoted.Task.IsCompleted) ? clock.Elapsed : throw new TimeoutException($"r{r} was not failed over within 90 s\n{_process.Output}");
        }

        public void Acknowledged(long sequence)
        {
            if (_acks.TryGetValue(sequence, out var ack))
            {
                ack.Done.TrySetResult(true);
            }
        }

        public void Commanded() => Interlocked.Increment(ref _commands);

        public async ValueTask DisposeAsync()
        {
            await _sweeping.CancelAsync().ConfigureAwait(false);
            await _sweeper.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            _sweeping.Dispose();
            await Task.WhenAll(_agents.Select(a => a.CloseAsync())).ConfigureAwait(false);
            foreach (var channel in _channels)
            {
                channel.Dispose();
            }

            _admin?.Dispose();

            await _process.DisposeAsync().ConfigureAwait(false);
            if (_etcd is not null)
            {
                await _etcd.DisposeAsync().ConfigureAwait(false);
            }

            _directory.Dispose();
        }

        /// <summary>
        /// Runtime settings for the coordinator alone: <c>COORDINATOR_DOTNET_GCgen0size=...</c> in this
        /// process's environment reaches it as <c>DOTNET_GCgen0size</c> (this process's own
        /// <c>DOTNET_*</c> reach it too, as any child's environment does).
        /// </summary>
        private static Dictionary<string, string> CoordinatorRuntimeSettings()
        {
            var settings = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
            {
                var key = (string)entry.Key;
                if (key.StartsWith("COORDINATOR_DOTNET_", StringComparison.Ordinal))
                {
                    settings[key["COORDINATOR_".Length..]] = (string)entry.Value!;
                }
            }

            return settings;
        }

        public static Metadata Headers() => new() { { "authorization", "Bearer " + Token } };

        // Never dialled (the agents are simulated), and loopback all the same.
        public static string Address(int r, int k) => $"127.{1 + (r / 250)}.{r % 250}.{k + 1}:6379";
    }

    /// <summary>A report sent and not yet acknowledged: when it was sent, and true once acknowledged, false after 5 s.</summary>
    private sealed class PendingAck(long sent)
    {
        public long Sent { get; } = sent;

        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>One agent as the coordinator sees it: a stream, reports, and answers to every command.</summary>
    private sealed class SimulatedAgent(Fleet fleet, int resource, int node, GrpcChannel channel)
    {
        private readonly Channel<AgentMessage> _outbound = Channel.CreateUnbounded<AgentMessage>(new UnboundedChannelOptions { SingleReader = true });
        private AsyncDuplexStreamingCall<AgentMessage, CoordinatorMessage>? _call;
        private Task _pump = Task.CompletedTask;
        private Task _reader = Task.CompletedTask;
        private long _offset = 1000;
        private readonly string[] _targets = [.. Enumerable.Range(0, 3).Select(k => $"r{resource}n{k}")];
        private readonly string _primaryAddress = Fleet.Address(resource, 0);

        public int Index => (resource * 3) + node;

        public bool Open { get; private set; }

        public volatile bool PrimaryLost;

        public TaskCompletionSource Promoted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private string Name => $"r{resource}n{node}";

        public Task ConnectAsync()
        {
            _call = new AgentLink.AgentLinkClient(channel).Connect(Fleet.Headers());
            Open = true;
            _outbound.Writer.TryWrite(new AgentMessage
            {
                Registration = new Registration { Resource = $"r{resource}", Node = Name, Role = node == 0 ? NodeRole.Primary : NodeRole.Replica, Address = Fleet.Address(resource, node), Zone = $"z{node}" },
            });
            _pump = Task.Run(async () =>
            {
                try
                {
                    await foreach (var message in _outbound.Reader.ReadAllAsync().ConfigureAwait(false))
                    {
                        await _call.RequestStream.WriteAsync(message).ConfigureAwait(false);
                    }

                    await _call.RequestStream.CompleteAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is RpcException or IOException or InvalidOperationException)
                {
                    Open = false;
                }
            });
            _reader = Task.Run(ReadAsync);
            return Task.CompletedTask;
        }

        public void Send(AgentMessage message) => _outbound.Writer.TryWrite(message);

        public Report Report(long sequence, bool lostPrimary)
        {
            var offset = Interlocked.Add(ref _offset, 100);
            var full = !fleet.LeanReports;
            var report = new Report
            {
                Role = node == 0 ? NodeRole.Primary : NodeRole.Replica,
                ReplicationOffset = offset,
                LinkUp = node != 0,
                PrimaryAddress = node == 0 ? "" : _primaryAddress,
                LocalVerdict = Verdict.Healthy,
                Settings = new Settings(),
                Sequence = sequence,
            };
            var at = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
            if (full)
            {
                // What a real agent's ReportBuilder adds: the previous release's names, the settings
                // it read, the server's version and persistence, and its plan use at its last sample.
                report.RoleName = node == 0 ? "master" : "slave";
                report.LocalVerdictName = "Healthy";
                report.Settings = new Settings { TimeoutSeconds = 0, MaxmemoryPolicy = "noeviction" };
                report.RedisVersion = "7.0.15";
                report.Persistence = "AOF (appendfsync everysec)";
                report.PlanUsage = new PlanUsage
                {
                    Plan = "premium-0", UsedMemoryBytes = (1 << 20) + (offset % 4096), MemoryLimitBytes = 50 << 20, ActiveConnections = 3, ConnectionLimit = 40, SampledAt = at,
                };
            }

            for (var k = 0; k < 3; k++)
            {
                var target = _targets[k];
                var lost = lostPrimary && k == 0;
                var observation = new Observation
                {
                    Target = target,
                    Verdict = lost ? Verdict.HostUnreachable : Verdict.Healthy,
                    HostVerdict = lost ? HostVerdict.Down : HostVerdict.Up,
                    At = at,
                    Port = lost ? PortOutcome.ConnectTimeout : PortOutcome.Pong,
                };
                if (full)
                {
                    observation.VerdictName = observation.Verdict.ToString();
                    observation.HostVerdictName = observation.HostVerdict.ToString();
                    observation.PortName = observation.Port.ToString();
                }

                report.Observations.Add(observation);
            }

            return report;
        }

        public async Task CloseAsync()
        {
            _outbound.Writer.TryComplete();
            await _pump.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            _call?.Dispose();
            await _reader.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            Open = false;
        }

        private async Task ReadAsync()
        {
            try
            {
                await foreach (var message in _call!.ResponseStream.ReadAllAsync().ConfigureAwait(false))
                {
                    switch (message.BodyCase)
                    {
                        case CoordinatorMessage.BodyOneofCase.ReportAck:
                            fleet.Acknowledged(message.ReportAck.Sequence);
                            break;
                        case CoordinatorMessage.BodyOneofCase.Command:
                            fleet.Commanded();
                            var command = message.Command;
                            var result = new CommandResult { CommandId = command.CommandId, Ok = true };
                            if (command.ActionCase == Command.ActionOneofCase.ProbeNow)
                            {
                                var lost = PrimaryLost && command.ProbeNow.Target == $"r{resource}n0";
                                result.Observation = new Observation
                                {
                                    Target = command.ProbeNow.Target,
                                    Verdict = lost ? Verdict.HostUnreachable : Verdict.Healthy,
                                    HostVerdict = lost ? HostVerdict.Down : HostVerdict.Up,
                                    At = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
                                    Port = lost ? PortOutcome.ConnectTimeout : PortOutcome.Pong,
                                };
                            }
                            else if (command.ActionCase == Command.ActionOneofCase.Promote)
                            {
                                Promoted.TrySetResult();
                            }

                            Send(new AgentMessage { Result = result });
                            break;
                    }
                }
            }
            catch (Exception ex) when (ex is RpcException or IOException or ObjectDisposedException or InvalidOperationException)
            {
            }
            finally
            {
                Open = false;
            }
        }
    }
}
