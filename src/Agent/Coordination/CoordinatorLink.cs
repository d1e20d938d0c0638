using System.Globalization;
using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.Hosting;
using RedisAgent.Node;
using RedisAgent.Peers;
using RedisAgent.Sampling;
using RedisFailover.Protos;

namespace RedisAgent.Coordination;

/// <summary>
/// The agent's side of redis-failover: one stream, held for the agent's life (redialled with
/// backoff). Up: the registration, a report every <see cref="CoordinatorOptions.ReportInterval"/>
/// (role, offset, link, settings, what the agent sees of every target), and each command's result.
/// Down: commands, each stamped with a term; a term older than the highest seen is refused.
/// </summary>
internal sealed partial class CoordinatorLink(
    IOptions<CoordinatorOptions> options,
    IOptions<AgentOptions> agent,
    ProbeTargets targets,
    RedisEndpoint endpoint,
    SampleBook samples,
    Node.NodeStatus status,
    ObservationBook observations,
    NodeControl control,
    RedisConnection connection,
    Supervision.RestartLease lease,
    TimeProvider time,
    ILogger<CoordinatorLink> logger) : BackgroundService
{
    private readonly CoordinatorOptions _options = options.Value;
    private readonly TermStore _terms = new(agent.Value.ResolveStateDirectory());
    private long _lastHeard;

    /// <summary>True while a stream to the coordinator is open.</summary>
    public bool Connected { get; private set; }

    /// <summary>When the coordinator was last heard from (a welcome or a command), as a <see cref="TimeProvider"/> timestamp; 0: never.</summary>
    public long LastHeard => Interlocked.Read(ref _lastHeard);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (string.IsNullOrEmpty(_options.Url))
        {
            return;
        }

        if (_options.SelfFenceAfter is { } after)
        {
            _ = Task.Run(() => WatchForIsolationAsync(after, stoppingToken), stoppingToken);
        }

        var backoff = TimeSpan.FromMilliseconds(250);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
                backoff = TimeSpan.FromMilliseconds(250);
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                // Shutting down: the stream was cancelled by us, not lost.
                break;
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.Unauthenticated or StatusCode.NotFound or StatusCode.InvalidArgument or StatusCode.PermissionDenied)
            {
                Log.Refused(logger, _options.Url, ex.StatusCode.ToString(), ex.Status.Detail);
                backoff = TimeSpan.FromSeconds(30);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested && ex is RpcException or IOException or HttpRequestException or InvalidOperationException)
            {
                if (Connected)
                {
                    Log.Lost(logger, _options.Url, ex.Message);
                }
            }
            finally
            {
                Connected = false;
            }

            try
            {
                await Task.Delay(backoff, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
        }
    }

    private async Task RunOnceAsync(CancellationToken stoppingToken)
    {
        using var channel = GrpcChannel.ForAddress(_options.Url!, new GrpcChannelOptions { HttpHandler = Handler() });
        var client = new AgentLink.AgentLinkClient(channel);
        var headers = new Metadata { { "authorization", "Bearer " + _options.Token } };
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        using var call = client.Connect(headers, cancellationToken: stop.Token);
        var outbound = Channel.CreateUnbounded<AgentMessage>(new UnboundedChannelOptions { SingleReader = true });
        outbound.Writer.TryWrite(new AgentMessage
        {
            Registration = new Registration
            {
                Resource = _options.Resource ?? "",
                Node = targets.Local.Name,
                Role = RoleNow,
                RoleName = RoleNow.LegacyName(),
                Address = endpoint.HostAndPort,
                Zone = _options.Zone,
                TermSeen = _terms.Highest,
            },
        });

        var writer = WriteAsync(call.RequestStream, outbound.Reader, stop.Token);
        var reporter = ReportAsync(outbound.Writer, stop.Token);
        try
        {
            await foreach (var message in call.ResponseStream.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                Interlocked.Exchange(ref _lastHeard, time.GetTimestamp());
                if (message.BodyCase == CoordinatorMessage.BodyOneofCase.Welcome)
                {
                    Connected = true;
                    _terms.TryAccept(message.Welcome.Term);
                    Log.Connected(logger, _options.Url!, message.Welcome.Term, message.Welcome.Primary);
                    if (_options.SelfFenceAfter is { } selfFence && message.Welcome.WindowMs > 0 && selfFence >= TimeSpan.FromMilliseconds(message.Welcome.WindowMs))
                    {
                        // Only the coordinator knows its window: checked here, as soon as it says it.
                        Log.SelfFenceTooLate(logger, selfFence, TimeSpan.FromMilliseconds(message.Welcome.WindowMs));
                    }
                }
                else if (message.BodyCase == CoordinatorMessage.BodyOneofCase.Command)
                {
                    var result = await CarryOutAsync(message.Command).ConfigureAwait(false);
                    outbound.Writer.TryWrite(new AgentMessage { Result = result });
                    if (message.Command.ActionCase != Command.ActionOneofCase.RestartLease)
                    {
                        // The node changed (or was probed): the coordinator hears of it now, not a report interval later.
                        outbound.Writer.TryWrite(new AgentMessage { Report = await ReportAsync().ConfigureAwait(false) });
                    }
                }
            }
        }
        finally
        {
            outbound.Writer.TryComplete();
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(Quietly(writer), Quietly(reporter)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// HTTP/2 pings every second, so a coordinator that went silent (a partition, not a closed
    /// connection) is noticed within seconds rather than a TCP timeout; and the connection leaves
    /// from Agent:SourceAddress when one is set.
    /// </summary>
    private SocketsHttpHandler Handler()
    {
        var handler = new SocketsHttpHandler
        {
            KeepAlivePingDelay = TimeSpan.FromSeconds(1),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(1),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            ConnectTimeout = TimeSpan.FromSeconds(3),
            EnableMultipleHttp2Connections = false,
        };
        if (agent.Value.Source is { } source)
        {
            handler.ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new System.Net.IPEndPoint(source, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }

        return handler;
    }

    /// <summary>
    /// A primary that can see neither the coordinator nor any peer's Redis for
    /// <paramref name="after"/> is probably the one cut off: it fences itself (writes refused), so
    /// that once the others promote a new primary the old one accepts nothing. Only the
    /// coordinator lifts the fence (Unfence, Promote or ReplicateFrom).
    /// </summary>
    private async Task WatchForIsolationAsync(TimeSpan after, CancellationToken stoppingToken)
    {
        var lastContact = time.GetTimestamp();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                if (Connected || PeerAnsweredWithin(after))
                {
                    lastContact = time.GetTimestamp();
                    continue;
                }

                var alone = time.GetElapsedTime(lastContact);
                if (alone >= after && !control.Fenced && RoleNow == NodeRole.Primary)
                {
                    try
                    {
                        await control.FenceAsync().ConfigureAwait(false);
                        lease.Void("this primary fenced itself, cut off from the coordinator and every peer; a restart waits for the coordinator's word");
                        Log.SelfFenced(logger, alone.TotalSeconds);
                    }
                    catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
                    {
                        Log.Failed(logger, "self-fence", ex.Message);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private bool PeerAnsweredWithin(TimeSpan window)
    {
        var now = time.GetUtcNow();
        return observations.Targets.Values.Any(t => !t.IsLocal && t.LastPort is { } port && now - port.At <= window
            && port.Outcome.ToWire().ProvesHostAlive());
    }

    /// <summary>The node's role at its last sample.</summary>
    private NodeRole RoleNow => Vocabulary.RoleFromInfo(samples.Last?.Info.GetValueOrDefault("role"));

    private async Task<CommandResult> CarryOutAsync(Command command)
    {
        var result = new CommandResult { CommandId = command.CommandId, Ok = true };
        if (!_terms.TryAccept(command.Term))
        {
            result.Ok = false;
            result.Error = string.Create(CultureInfo.InvariantCulture, $"stale term {command.Term}: this agent has seen term {_terms.Highest}");
            Log.StaleTerm(logger, command.ActionCase.ToString(), command.Term, _terms.Highest);
            return result;
        }

        try
        {
            switch (command.ActionCase)
            {
                case Command.ActionOneofCase.ProbeNow:
                    result.Observation = Observe(command.ProbeNow.Target)
                        ?? throw new InvalidOperationException($"this agent does not watch '{command.ProbeNow.Target}'");
                    break;
                case Command.ActionOneofCase.Promote:
                    await control.PromoteAsync().ConfigureAwait(false);
                    break;
                case Command.ActionOneofCase.ReplicateFrom:
                    await control.ReplicateFromAsync(command.ReplicateFrom.Address).ConfigureAwait(false);
                    break;
                case Command.ActionOneofCase.ApplySettings:
                    var settings = command.ApplySettings.Settings;
                    await control.ApplySettingsAsync(settings.HasTimeoutSeconds ? settings.TimeoutSeconds : null, settings.HasMaxmemoryPolicy ? settings.MaxmemoryPolicy : null).ConfigureAwait(false);
                    break;
                case Command.ActionOneofCase.Fence:
                    await control.FenceAsync().ConfigureAwait(false);
                    break;
                case Command.ActionOneofCase.Unfence:
                    await control.UnfenceAsync().ConfigureAwait(false);
                    break;
                case Command.ActionOneofCase.RestartLease:
                    var grant = command.RestartLease;
                    if (grant.Granted && grant.TtlMs <= 0)
                    {
                        throw new ArgumentException($"a restart lease needs a positive ttl_ms, not {grant.TtlMs}");
                    }

                    var changed = grant.Granted
                        ? lease.Grant(TimeSpan.FromMilliseconds(grant.TtlMs), grant.FenceOnStart)
                        : lease.End(grant.Reason);
                    if (changed)
                    {
                        Log.Lease(logger, grant.Granted ? "granted" : "ended", command.Term, grant.Granted ? $"ttl {grant.TtlMs} ms{(grant.FenceOnStart ? ", fence on start" : "")}" : grant.Reason);
                    }

                    return result;
                default:
                    throw new InvalidOperationException($"unknown command {command.ActionCase}");
            }

            if (command.ActionCase != Command.ActionOneofCase.ProbeNow)
            {
                Log.Carried(logger, command.ActionCase.ToString(), command.Term, Describe(command));
            }
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or InvalidOperationException or ArgumentException or TimeoutException)
        {
            result.Ok = false;
            result.Error = ex.Message;
            Log.Failed(logger, command.ActionCase.ToString(), ex.Message);
        }

        return result;
    }

    private async Task ReportAsync(ChannelWriter<AgentMessage> outbound, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.ReportInterval, time);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            outbound.TryWrite(new AgentMessage { Report = await ReportAsync().ConfigureAwait(false) });
        }
    }

    private static async Task WriteAsync(IClientStreamWriter<AgentMessage> stream, ChannelReader<AgentMessage> reader, CancellationToken cancellationToken)
    {
        await foreach (var message in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            await stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The report of this moment: the node's replication as <c>INFO replication</c> says it now
    /// (the coordinator estimates a failover's loss from these offsets, so a sample up to a
    /// Sampling:Interval old would understate it), its settings from the last sample, and every
    /// target's latest verdict. When the node does not answer, the last sample stands in.
    /// </summary>
    internal async Task<Report> ReportAsync()
    {
        var verdict = status.Snapshot.Verdict;
        var report = new Report { TermSeen = _terms.Highest, Fenced = control.Fenced, LocalVerdict = verdict.ToWire(), LocalVerdictName = verdict.ToString() };
        IReadOnlyDictionary<string, string>? fresh = null;
        try
        {
            var server = await connection.ServerAsync().WaitAsync(TimeSpan.FromMilliseconds(500), time).ConfigureAwait(false);
            fresh = InfoParser.Parse(await server.InfoRawAsync("replication").WaitAsync(TimeSpan.FromMilliseconds(500), time).ConfigureAwait(false) ?? "");
        }
        catch (Exception ex) when (ex is TimeoutException or StackExchange.Redis.RedisException)
        {
            Log.ReportWithoutInfo(logger, ex.GetType().Name + ": " + ex.Message);
        }

        if (samples.Last is { } sample)
        {
            var info = fresh is { Count: > 0 } ? fresh : sample.Info;
            var replication = InfoParser.ToReplication(info);
            report.Role = replication.Role;
            report.RoleName = replication.Role.LegacyName();
            report.ReplicationOffset = replication.Offset;
            report.LinkUp = replication.LinkUp;
            report.PrimaryAddress = replication.PrimaryAddress;
            report.SyncInProgress = replication.SyncInProgress;
            report.Settings = new Settings();
            if (sample.Config?.Timeout is { } timeout)
            {
                report.Settings.TimeoutSeconds = timeout;
            }

            if (sample.MaxMemoryPolicy is { } policy)
            {
                report.Settings.MaxmemoryPolicy = policy;
            }
        }

        foreach (var target in observations.Targets.Keys)
        {
            if (Observe(target) is { } seen)
            {
                report.Observations.Add(seen);
            }
        }

        return report;
    }

    /// <summary>The agent's current judgement of <paramref name="target"/> (its port is probed every Probe:Interval).</summary>
    private Observation? Observe(string target)
    {
        if (observations[target] is not { } seen)
        {
            return null;
        }

        var at = seen.LastPort?.At ?? seen.LastHost?.At ?? time.GetUtcNow();
        return new Observation
        {
            Target = target,
            Verdict = seen.Verdict.ToWire(),
            HostVerdict = seen.HostVerdict.ToWire(),
            At = Timestamp.FromDateTimeOffset(at),
            Port = seen.LastPort?.Outcome.ToWire() ?? PortOutcome.Unspecified,
            // The previous release's coordinator reads only these names (until 0.3).
            VerdictName = seen.Verdict.ToString(),
            HostVerdictName = seen.HostVerdict.ToString(),
            PortName = seen.LastPort?.Outcome.ToString() ?? "",
        };
    }

    private static string Describe(Command command) => command.ActionCase switch
    {
        Command.ActionOneofCase.ReplicateFrom => "from " + command.ReplicateFrom.Address,
        Command.ActionOneofCase.ApplySettings => command.ApplySettings.Settings.ToString(),
        Command.ActionOneofCase.Fence => command.Fence.Reason,
        _ => "",
    };

    private static async Task Quietly(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException or IOException or InvalidOperationException)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1601, Level = LogLevel.Information, Message = "Connected to the coordinator at {Url} (term {Term}, primary {Primary})")]
        public static partial void Connected(ILogger logger, string url, long term, string primary);

        [LoggerMessage(EventId = 1602, Level = LogLevel.Warning, Message = "Lost the coordinator at {Url}: {Error}; redialling")]
        public static partial void Lost(ILogger logger, string url, string error);

        [LoggerMessage(EventId = 1603, Level = LogLevel.Error, Message = "The coordinator at {Url} refused this agent ({Status}): {Detail}")]
        public static partial void Refused(ILogger logger, string url, string status, string detail);

        [LoggerMessage(EventId = 1604, Level = LogLevel.Warning, Message = "Refused {Command} of term {Term}: this agent has seen term {Highest}")]
        public static partial void StaleTerm(ILogger logger, string command, long term, long highest);

        [LoggerMessage(EventId = 1605, Level = LogLevel.Warning, Message = "Carried out the coordinator's {Command} (term {Term}) {Detail}")]
        public static partial void Carried(ILogger logger, string command, long term, string detail);

        [LoggerMessage(EventId = 1607, Level = LogLevel.Debug, Message = "INFO replication did not answer for the report; the last sample stands in: {Error}")]
        public static partial void ReportWithoutInfo(ILogger logger, string error);

        [LoggerMessage(EventId = 1608, Level = LogLevel.Critical, Message = "Fenced this primary (writes paused): neither the coordinator nor any peer has been reachable for {Seconds:0.#} s; only the coordinator lifts the fence")]
        public static partial void SelfFenced(ILogger logger, double seconds);

        [LoggerMessage(EventId = 1610, Level = LogLevel.Error, Message = "Coordinator:SelfFenceAfter ({SelfFence}) is not shorter than the coordinator's Failover:Window ({Window}): a primary cut off from everyone would fence itself only after another node was promoted, and take writes that are lost. Set it well under the window (half of it, say)")]
        public static partial void SelfFenceTooLate(ILogger logger, TimeSpan selfFence, TimeSpan window);

        [LoggerMessage(EventId = 1609, Level = LogLevel.Information, Message = "Restart lease {What} by the coordinator (term {Term}): {Detail}")]
        public static partial void Lease(ILogger logger, string what, long term, string detail);

        [LoggerMessage(EventId = 1606, Level = LogLevel.Error, Message = "Could not carry out the coordinator's {Command}: {Error}")]
        public static partial void Failed(ILogger logger, string command, string error);
    }
}
