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
using RedisAgent.Probing;
using RedisFailover.Protos;

namespace RedisAgent.Coordination;

/// <summary>
/// The agent's side of redis-failover: one stream, held for the agent's life (redialled with a
/// jittered backoff). Up: the registration, a report every <see cref="CoordinatorOptions.ReportInterval"/>
/// (<see cref="ReportBuilder"/>), and each command's result. Down: commands, carried out by
/// <see cref="CommandHandler"/> (a term older than the highest seen is refused). Whether the stream
/// is up is <see cref="LinkState"/>, which the <see cref="IsolationFence"/> reads.
/// </summary>
internal sealed partial class CoordinatorLink(
    IOptions<CoordinatorOptions> options,
    IOptions<AgentOptions> agent,
    ProbeTargets targets,
    RedisEndpoint endpoint,
    TermStore terms,
    LinkState link,
    CommandHandler commands,
    ReportBuilder reports,
    Node.NodeStatus status,
    Supervision.RestartLease lease,
    Node.Membership membership,
    TimeProvider time,
    ILogger<CoordinatorLink> logger) : BackgroundService
{
    private readonly CoordinatorOptions _options = options.Value;
    /// <summary>The trust last read (at each dial: a CA file that changes is used from the next connection on).</summary>
    private RedisShared.Security.TlsTrust _trust = RedisShared.Security.TlsTrust.Create(options.Value.TlsCaFile, options.Value.TlsCertificateSha256);
    private string? _lastTlsProblem;

    /// <summary>The credential presented at the last dial (<see cref="CredentialStamp"/>).</summary>
    private string _presented = "";
    private System.Security.Cryptography.X509Certificates.X509Certificate2? _clientCertificate;
    private DateTimeOffset _lastTlsProblemAt;
    private long _sequence;
    private int _next;

    /// <summary>The coordinator dialled now (or last).</summary>
    private string _url = options.Value.Urls.FirstOrDefault() ?? "";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (string.IsNullOrEmpty(_options.Url))
        {
            return;
        }

        // Redialled at most a second apart: a restarted primary waits for a coordinator's word to take
        // writes again (RestartLease.Alone), so its return must be noticed within about a second.
        var backoff = new Backoff(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1));
        var followed = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            var leaderNamed = false;
            string? refusedWith = null;
            try
            {
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
                backoff.Reset();
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.FailedPrecondition && !stoppingToken.IsCancellationRequested)
            {
                // A coordinator that does not lead: it names the one that does (followed only if it is
                // one of ours: a coordinator cannot send an agent anywhere else), or the next is tried.
                var named = ex.Trailers.GetValue("leader-url");
                leaderNamed = named is not null && _options.Urls.Contains(named, StringComparer.Ordinal) && named != _url;
                Log.NotLeader(logger, _url, named ?? "not known yet");
                _url = leaderNamed ? named! : NextUrl();
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                // Shutting down: the stream was cancelled by us, not lost.
                break;
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.Unauthenticated or StatusCode.NotFound or StatusCode.InvalidArgument or StatusCode.PermissionDenied)
            {
                Log.Refused(logger, _url, ex.StatusCode.ToString(), ex.Status.Detail);
                backoff.Hold(TimeSpan.FromSeconds(30));
                // The credential the refused call presented: one rotated since is tried at once.
                refusedWith = _presented;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested && ex is RpcException or IOException or HttpRequestException or InvalidOperationException)
            {
                if (link.Connected)
                {
                    Log.Lost(logger, _url, ex.Message);
                }

                _url = NextUrl();
            }
            finally
            {
                link.Connected = false;
                lease.Link(up: false);
            }

            if (leaderNamed && !followed)
            {
                // Straight to the leader a follower named (once: two followers naming each other wait like any failure).
                followed = true;
                continue;
            }

            followed = false;

            if (refusedWith is not null)
            {
                // Refused: retrying with the same credential would not cure it, so the wait is long,
                // but a credential rotated meanwhile (a new token or certificate file) is tried at once.
                if (!await WaitForNewCredentialAsync(backoff.Next(), refusedWith, stoppingToken).ConfigureAwait(false))
                {
                    break;
                }
            }
            else if (!await backoff.WaitAsync(time, stoppingToken).ConfigureAwait(false))
            {
                break;
            }
        }
    }

    /// <summary>What the agent presents with <paramref name="token"/>: the token's hash and its certificate files' times (a change means a rotation).</summary>
    private string CredentialStamp(string? token)
    {
        static string Written(string? file) => file is { Length: > 0 } && File.Exists(file) ? File.GetLastWriteTimeUtc(file).Ticks.ToString(CultureInfo.InvariantCulture) : "";
        return string.Join('\n', Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token ?? ""))), Written(_options.CertFile), Written(_options.KeyFile));
    }

    /// <summary>The token the agent would present now; null when none (or its file cannot be read right now).</summary>
    private string? TokenNow()
    {
        try
        {
            return _options.CurrentToken();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Waits <paramref name="wait"/>, or less when the credential changes from <paramref name="refusedWith"/>; false when stopping.</summary>
    private async Task<bool> WaitForNewCredentialAsync(TimeSpan wait, string refusedWith, CancellationToken stoppingToken)
    {
        var until = time.GetUtcNow() + wait;
        while (time.GetUtcNow() < until)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }

            if (CredentialStamp(TokenNow()) != refusedWith)
            {
                return true;
            }
        }

        return true;
    }

    /// <summary>The coordinator after the one dialled, in the configured order (the same one when there is only one).</summary>
    private string NextUrl()
    {
        var urls = _options.Urls;
        var at = urls.ToList().IndexOf(_url);
        _next = (at < 0 ? _next : at + 1) % urls.Count;
        return urls[_next];
    }

    private async Task RunOnceAsync(CancellationToken stoppingToken)
    {
        using var channel = GrpcChannel.ForAddress(_url, new GrpcChannelOptions { HttpHandler = Handler() });
        var client = new AgentLink.AgentLinkClient(channel);
        // The token is read at every dial (a rotated token file is used from the next one). Over
        // https:// it leaves only once the coordinator's certificate has been verified.
        var headers = new Metadata();
        var token = _options.CurrentToken();
        _presented = CredentialStamp(token);
        if (token is not null)
        {
            headers.Add("authorization", "Bearer " + token);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        using var call = client.Connect(headers, cancellationToken: stop.Token);
        var outbound = Channel.CreateUnbounded<AgentMessage>(new UnboundedChannelOptions { SingleReader = true });
        outbound.Writer.TryWrite(new AgentMessage
        {
            Registration = new Registration
            {
                Resource = _options.Resource ?? "",
                Node = targets.Local.Name,
                Role = reports.Role,
                RoleName = reports.Role.LegacyName(),
                Address = endpoint.HostAndPort,
                Zone = _options.Zone,
                TermSeen = terms.Highest,
            },
        });

        var writer = WriteAsync(call.RequestStream, outbound.Reader, stop.Token);
        var reporter = ReportAsync(outbound.Writer, stop.Token);
        try
        {
            await foreach (var message in call.ResponseStream.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                link.Heard(time.GetTimestamp());
                if (message.BodyCase == CoordinatorMessage.BodyOneofCase.Welcome)
                {
                    link.Connected = true;
                    lease.Link(up: true);
                    if (!terms.TryAccept(message.Welcome.Term, out var refusal) && message.Welcome.Term > terms.Highest)
                    {
                        Log.WelcomeTermRefused(logger, _url, refusal!);
                    }

                    Log.Connected(logger, _url, message.Welcome.Term, message.Welcome.Primary);
                    Learn(message.Welcome.Membership);
                    if (_options.FenceAfter is { } selfFence && message.Welcome.WindowMs > 0 && selfFence >= TimeSpan.FromMilliseconds(message.Welcome.WindowMs))
                    {
                        // Only the coordinator knows its window: checked here, as soon as it says it.
                        Log.SelfFenceTooLate(logger, selfFence, TimeSpan.FromMilliseconds(message.Welcome.WindowMs));
                    }
                }
                else if (message.BodyCase == CoordinatorMessage.BodyOneofCase.Membership)
                {
                    Learn(message.Membership);
                }
                else if (message.BodyCase == CoordinatorMessage.BodyOneofCase.Command)
                {
                    var result = await commands.CarryOutAsync(message.Command, stop.Token).ConfigureAwait(false);
                    outbound.Writer.TryWrite(new AgentMessage { Result = result });
                    if (message.Command.ActionCase != Command.ActionOneofCase.RestartLease)
                    {
                        // The node changed (or was probed): the coordinator hears of it now, not a report interval later.
                        outbound.Writer.TryWrite(new AgentMessage { Report = await reports.ReportAsync().ConfigureAwait(false) });
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
        if (agent.Value.Source() is { } source)
        {
            handler.ConnectCallback = RedisShared.Hosting.SourceBound.From(source);
        }

        if (_url.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            var url = _url;
            try
            {
                _trust = RedisShared.Security.TlsTrust.Create(_options.TlsCaFile, _options.TlsCertificateSha256);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or System.Security.Cryptography.CryptographicException)
            {
                // Mid-rewrite? The trust read before still decides.
                Log.TlsFileUnreadable(logger, "Coordinator:TlsCaFile", ex.Message, "the CA read before still decides");
            }

            var trust = _trust;
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                var problem = trust.Problem(certificate, errors);
                if (problem is not null && (problem != _lastTlsProblem || time.GetUtcNow() - _lastTlsProblemAt > TimeSpan.FromMinutes(1)))
                {
                    // Said when it changes, and once a minute while it lasts: the agent redials every second.
                    _lastTlsProblem = problem;
                    _lastTlsProblemAt = time.GetUtcNow();
                    Log.Untrusted(logger, url, problem);
                }

                return problem is null;
            };
            try
            {
                _clientCertificate = _options.ClientCertificate() ?? _clientCertificate;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                // A certificate renewed before its key (or the reverse): the pair read before is presented until both match.
                Log.TlsFileUnreadable(logger, "Coordinator:CertFile", ex.Message, "the certificate read before is presented");
            }

            if (_clientCertificate is { } certificate)
            {
                handler.SslOptions.ClientCertificates = [certificate];
            }
        }

        return handler;
    }

    /// <summary>
    /// A report every Coordinator:ReportInterval, and one at once when the supervisor's phase changes:
    /// a request for a failover (a restart that became hopeless) must not wait for the next tick.
    /// </summary>
    private async Task ReportAsync(ChannelWriter<AgentMessage> outbound, CancellationToken cancellationToken)
    {
        var changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        void OnPhase() => changed.Writer.TryWrite(true);
        status.PhaseChanged += OnPhase;
        try
        {
            using var timer = new PeriodicTimer(_options.ReportInterval, time);
            var tick = timer.WaitForNextTickAsync(cancellationToken).AsTask();
            var phase = changed.Reader.WaitToReadAsync(cancellationToken).AsTask();
            while (true)
            {
                if (await Task.WhenAny(tick, phase).ConfigureAwait(false) == tick)
                {
                    if (!await tick.ConfigureAwait(false))
                    {
                        return;
                    }

                    tick = timer.WaitForNextTickAsync(cancellationToken).AsTask();
                }
                else
                {
                    await phase.ConfigureAwait(false);
                    changed.Reader.TryRead(out _);
                    phase = changed.Reader.WaitToReadAsync(cancellationToken).AsTask();
                }

                var report = await reports.ReportAsync().ConfigureAwait(false);
                // Acknowledged: the coordinator is heard from every report interval, so that a silent
                // stream is noticed (the isolation fence) in two intervals rather than an HTTP/2 ping timeout.
                report.Sequence = ++_sequence;
                outbound.TryWrite(new AgentMessage { Report = report });
            }
        }
        finally
        {
            status.PhaseChanged -= OnPhase;
        }
    }

    private static async Task WriteAsync(IClientStreamWriter<AgentMessage> stream, ChannelReader<AgentMessage> reader, CancellationToken cancellationToken)
    {
        await foreach (var message in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            await stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
    }

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

    /// <summary>
    /// The resource's nodes as the coordinator names them: the peers this agent watches follow. An
    /// empty list (a coordinator of the previous release) changes nothing; a list that does not name
    /// this node, or is beyond any real resource's size, is not taken.
    /// </summary>
    private void Learn(RedisFailover.Protos.Membership? said)
    {
        if (said is null || said.Members.Count == 0)
        {
            return;
        }

        if (said.Members.Count > 64 || said.Members.Any(m => m.Node.Length is 0 or > 64 || m.Address.Length is 0 or > 300 || m.Zone.Length > 64)
            || said.Members.All(m => m.Node != targets.Local.Name))
        {
            Log.MembershipRefused(logger, said.Members.Count);
            return;
        }

        membership.Set([.. said.Members.Select(m => new Node.Member(m.Node, m.Address, m.Zone))]);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1617, Level = LogLevel.Warning, Message = "The coordinator's list of the resource's nodes ({Count}) is not taken: it does not name this node, or a name or address is empty or too long")]
        public static partial void MembershipRefused(ILogger logger, int count);

        [LoggerMessage(EventId = 1601, Level = LogLevel.Information, Message = "Connected to the coordinator at {Url} (term {Term}, primary {Primary})")]
        public static partial void Connected(ILogger logger, string url, long term, string primary);

        [LoggerMessage(EventId = 1602, Level = LogLevel.Warning, Message = "Lost the coordinator at {Url}: {Error}; redialling")]
        public static partial void Lost(ILogger logger, string url, string error);

        [LoggerMessage(EventId = 1612, Level = LogLevel.Information, Message = "The coordinator at {Url} does not lead; the leader: {Leader}")]
        public static partial void NotLeader(ILogger logger, string url, string leader);

        [LoggerMessage(EventId = 1603, Level = LogLevel.Error, Message = "The coordinator at {Url} refused this agent ({Status}): {Detail}")]
        public static partial void Refused(ILogger logger, string url, string status, string detail);

        [LoggerMessage(EventId = 1614, Level = LogLevel.Error, Message = "The coordinator at {Url} is not trusted, nothing was sent to it: {Problem}")]
        public static partial void Untrusted(ILogger logger, string url, string problem);

        [LoggerMessage(EventId = 1616, Level = LogLevel.Error, Message = "{Key} cannot be read again ({Reason}): {Instead}")]
        public static partial void TlsFileUnreadable(ILogger logger, string key, string reason, string instead);

        [LoggerMessage(EventId = 1615, Level = LogLevel.Critical, Message = "The coordinator at {Url} sent a term this agent refuses: {Refusal}")]
        public static partial void WelcomeTermRefused(ILogger logger, string url, string refusal);

        [LoggerMessage(EventId = 1610, Level = LogLevel.Error, Message = "Coordinator:SelfFenceAfter ({SelfFence}) is not shorter than the coordinator's Failover:Window ({Window}): a primary cut off from everyone would fence itself only after another node was promoted, and take writes that are lost. Set it well under the window (half of it, say)")]
        public static partial void SelfFenceTooLate(ILogger logger, TimeSpan selfFence, TimeSpan window);

    }
}
