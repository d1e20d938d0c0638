using Grpc.Core;
using Microsoft.Extensions.Logging;
using RedisFailover.Coordination;
using RedisFailover.Protos;

namespace RedisFailover.Services;

/// <summary>The agents' stream: registration, then reports and results up, commands down.</summary>
internal sealed partial class AgentLinkService(Coordinator coordinator, RefusalLog refusals, AuthInterceptor auth, TimeProvider time, Microsoft.Extensions.Options.IOptions<RedisFailover.Hosting.FailoverOptions> options, RedisFailover.Dashboard.PlanHistory history, Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime, Microsoft.Extensions.Options.IOptions<Grpc.AspNetCore.Server.GrpcServiceOptions> grpcOptions, ILogger<AgentLinkService> logger) : AgentLink.AgentLinkBase
{
    public override async Task Connect(IAsyncStreamReader<AgentMessage> requestStream, IServerStreamWriter<CoordinatorMessage> responseStream, ServerCallContext context)
    {
        using (var first = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken))
        {
            // A stream that has not registered by then is ended: an open, silent stream costs the coordinator a slot.
            var deadline = options.Value.RegistrationDeadline;
            first.CancelAfter(deadline);
            bool received;
            try
            {
                received = await requestStream.MoveNext(first.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!context.CancellationToken.IsCancellationRequested)
            {
                throw Refuse(context, StatusCode.DeadlineExceeded, $"no registration within {deadline.TotalSeconds:0.#} s");
            }

            if (!received || requestStream.Current.BodyCase != AgentMessage.BodyOneofCase.Registration)
            {
                throw Refuse(context, StatusCode.InvalidArgument, "the first message on the stream must be a registration");
            }
        }

        var registration = requestStream.Current.Registration;
        if (WireLimits.RegistrationProblem(registration) is { } problem)
        {
            throw Refuse(context, StatusCode.InvalidArgument, problem);
        }

        var caller = AuthInterceptor.CallerOf(context);
        if (!caller.MaySpeakFor(registration.Resource, registration.Node))
        {
            // An agent's credential is bound to one node: it cannot report (or answer commands) as another.
            throw Refuse(context, StatusCode.PermissionDenied,
                $"the credential of {caller.Name} cannot register as {registration.Resource}/{registration.Node}");
        }

        if (!coordinator.Leadership.Leads)
        {
            throw NotLeader(coordinator.Leadership);
        }

        var resource = coordinator[registration.Resource]
            ?? (coordinator.Configured.Contains(registration.Resource, StringComparer.Ordinal)
                ? throw new RpcException(new Status(StatusCode.Unavailable, "this coordinator has just begun to lead and is taking up its resources: try again"))
                : throw Refuse(context, StatusCode.NotFound, $"unknown resource '{registration.Resource}'"));
        if (!resource.Machine.Knows(registration.Node))
        {
            throw Refuse(context, StatusCode.NotFound, $"resource '{registration.Resource}' has no node '{registration.Node}'");
        }

        var session = resource.Attach(registration.Node, registration.TermSeen);
        // A stopping coordinator (SIGTERM) ends every agent's stream at once, rather than waiting out the
        // host's shutdown timeout for streams that never end by themselves; the agents redial (another
        // coordinator, with etcd, or this one once restarted) and keep restarting dead processes meanwhile.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, session.Replaced.Token, lifetime.ApplicationStopping);
        // The writer has its own token: cancelling a write resets the whole call (gRPC's writer does),
        // which would lose the status the call ends with (a refusal, "not the leader") if an
        // acknowledgement were being written at that moment.
        using var writing = new CancellationTokenSource();
        var writer = WriteAsync(session, responseStream, writing.Token);
        try
        {
            var stream = new AgentStream(registration, session, resource, context, time.GetUtcNow());
            // From here on the stream is read in this one loop, from the request body, not with gRPC's
            // reader: see AgentFrames for why. Whatever follows the registration is still in the body.
            var http = context.GetHttpContext();
            var body = http.Request.BodyReader;
            var frames = new AgentFrames(grpcOptions.Value.MaxReceiveMessageSize ?? int.MaxValue, http.Request.Headers["grpc-encoding"].FirstOrDefault(), grpcOptions.Value.CompressionProviders);
            while (true)
            {
                var read = await body.ReadAsync(stop.Token).ConfigureAwait(false);
                var buffer = read.Buffer;
                try
                {
                    while (frames.TryReadBytes(ref buffer, out var message))
                    {
                        CheckRevocation(stream);
                        // A report in an agent's shape is read straight into the machine's record;
                        // anything else (a command's result, a report to refuse) through protobuf's parser.
                        if (ReportReader.TryRead(message, stream.Previous, out var report, out var sequence))
                        {
                            Apply(stream, report, sequence);
                        }
                        else
                        {
                            Handle(stream, AgentFrames.Parse(message));
                        }
                    }

                    if (read.IsCanceled)
                    {
                        throw new OperationCanceledException("the read of the agent's stream was cancelled");
                    }

                    if (read.IsCompleted)
                    {
                        if (!buffer.IsEmpty)
                        {
                            throw Refuse(context, StatusCode.Internal, $"{registration.Node}'s stream ended inside a message");
                        }

                        break;
                    }
                }
                finally
                {
                    body.AdvanceTo(buffer.Start, buffer.End);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // The agent went away (or was cut off): the session ends below. A refusal (a bad message) is
            // not caught: it ends the call with its status. (Only gRPC's reader, no longer used past the
            // registration, threw an RpcException for a lost connection.)
        }
        finally
        {
            if (session.CutReason is { } cut)
            {
                Log.Cut(logger, registration.Resource, session.Node, cut);
            }

            resource.Detach(session);
            await stop.CancelAsync().ConfigureAwait(false);
            session.Replaced.Dispose();
            // The queue is complete now: the writer ends once it has sent what is queued. Only a peer
            // that does not read (or whose connection is gone) keeps it longer; its write is then
            // cancelled, and the call reset.
            writing.CancelAfter(WriterGrace);
            try
            {
                await writer.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException or RpcException)
            {
            }
        }

        if (session.CutReason is not null && !coordinator.Leadership.Leads)
        {
            // Cut because this coordinator stopped leading: the agent is told where to go.
            throw NotLeader(coordinator.Leadership);
        }
    }

    /// <summary>What the coordinator keeps of one agent's stream while it reads it.</summary>
    private sealed class AgentStream(Registration registration, AgentSession session, ResourceCoordinator resource, ServerCallContext context, DateTimeOffset checkedAt)
    {
        public Registration Registration { get; } = registration;

        public AgentSession Session { get; } = session;

        public ResourceCoordinator Resource { get; } = resource;

        public ServerCallContext Context { get; } = context;

        /// <summary>When the caller's credential was last checked for revocation.</summary>
        public DateTimeOffset CheckedAt { get; set; } = checkedAt;

        /// <summary>The node's last report, whose unchanged parts the next one shares.</summary>
        public NodeReport? Previous { get; set; }

        /// <summary>Messages ignored since the last time that was said (event 2003).</summary>
        public long Ignored { get; set; }

        public DateTimeOffset? IgnoredSaidAt { get; set; }
    }

    /// <summary>One message of an agent's stream after its registration: a report, a command's result.</summary>
    private void Handle(AgentStream stream, AgentMessage message)
    {
        var (registration, session, resource, context) = (stream.Registration, stream.Session, stream.Resource, stream.Context);
        switch (message.BodyCase)
        {
            case AgentMessage.BodyOneofCase.Report:
                if (WireLimits.ReportProblem(message.Report) is { } bad)
                {
                    // A report the machine could misread (a negative offset "in sync", a term past any real one) ends the stream.
                    throw Refuse(context, StatusCode.InvalidArgument, $"{registration.Node}'s report refused: {bad}");
                }

                Apply(stream, ToReport(message.Report, stream.Previous), message.Report.Sequence);
                break;
            case AgentMessage.BodyOneofCase.Result:
                if (message.Result.CalculateSize() > WireLimits.MaxResultBytes)
                {
                    throw Refuse(context, StatusCode.InvalidArgument, $"{registration.Node}'s command result is larger than {WireLimits.MaxResultBytes} bytes");
                }

                if (message.Result.Observation is { } answered && WireLimits.ObservationProblem(answered) is { } wrong)
                {
                    throw Refuse(context, StatusCode.InvalidArgument, $"{registration.Node}'s command result refused: {wrong}");
                }

                resource.Answered(session.Node, message.Result);
                break;
            default:
                // A kind this coordinator does not know (a newer agent's), an empty message, a second
                // registration: ignored, and said at most once a minute a stream, with a count, so that
                // a flood of them cannot flood the log.
                stream.Ignored++;
                var now = time.GetUtcNow();
                if (stream.IgnoredSaidAt is not { } said || now - said >= RefusalLog.Interval)
                {
                    Log.Ignored(logger, registration.Resource, session.Node, message.BodyCase.ToString(), stream.Ignored);
                    stream.IgnoredSaidAt = now;
                    stream.Ignored = 0;
                }

                break;
        }
    }

    /// <summary>Revocation reaches open streams too, within about a second: checked at the first message a second.</summary>
    private void CheckRevocation(AgentStream stream)
    {
        var now = time.GetUtcNow();
        if (now - stream.CheckedAt >= TimeSpan.FromSeconds(1))
        {
            stream.CheckedAt = now;
            if (auth.Revoked(stream.Context) is { } revoked)
            {
                throw Refuse(stream.Context, StatusCode.Unauthenticated, $"{stream.Registration.Node}'s credential is no longer valid: {revoked}");
            }
        }
    }

    /// <summary>A checked report, applied to the machine and acknowledged.</summary>
    private void Apply(AgentStream stream, NodeReport report, long sequence)
    {
        var (registration, session, resource) = (stream.Registration, stream.Session, stream.Resource);
        stream.Previous = report;
        Log.Reported(logger, registration.Resource, session.Node, report.Role, report.ReplicationOffset, report.LocalVerdict);
        resource.Step((session.Node, Report: report), static (machine, input, now) => machine.Reported(input.Node, input.Report, now));
        if (report.Plan is { } plan && history.Enabled && resource.Read(m => m.Primary) == session.Node)
        {
            history.Record(resource.Name, session.Node, plan);
        }

        if (sequence != 0)
        {
            session.Post(new CoordinatorMessage { ReportAck = new ReportAck { Sequence = sequence } });
        }
    }

    /// <summary>How long a stream's writer may take to send what was queued when its stream ends.</summary>
    private static readonly TimeSpan WriterGrace = TimeSpan.FromSeconds(1);

    /// <summary>The trailer that names the leading coordinator's URL, for a caller sent away by a follower.</summary>
    public const string LeaderTrailer = "leader-url";

    /// <summary>A follower's answer: FailedPrecondition, with the leader's URL in a trailer when it is known.</summary>
    public static RpcException NotLeader(RedisFailover.Leadership.ILeadership leadership)
    {
        var trailers = new Metadata();
        if (leadership.LeaderUrl is { } url)
        {
            trailers.Add(LeaderTrailer, url);
        }

        return new RpcException(new Status(StatusCode.FailedPrecondition, $"this coordinator does not lead ({leadership.Describe})"), trailers);
    }

    /// <summary>A refusal: logged at most once a minute per caller (with a count), its text cut so a hostile value is never echoed whole.</summary>
    private RpcException Refuse(ServerCallContext context, StatusCode code, string message)
    {
        var safe = WireLimits.Printable(message, 200);
        refusals.Refused(context.Peer, $"{code}: {safe}");
        return new RpcException(new Status(code, safe));
    }

    /// <summary>
    /// Writes what is queued for the agent until its queue is completed (the stream's end always
    /// completes it: <see cref="ResourceCoordinator.Detach"/>, a replacing stream, a cut). The wait
    /// takes no token: a channel then reuses one waiter for every wait, where a cancellable wait
    /// makes a waiter and a registration each time, once a second a stream (each acknowledgement),
    /// alive at every collection and copied by it, 5,000 of each for a fleet.
    /// </summary>
    private static async Task WriteAsync(AgentSession session, IServerStreamWriter<CoordinatorMessage> stream, CancellationToken cancellationToken)
    {
        await foreach (var message in session.Outbound.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            await stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A report as the machine reads it. Whatever equals the same node's <paramref name="previous"/>
    /// report (its strings, settings, observations) is that report's object, not a new one: the
    /// machine keeps a node's report for about a second, and what is new is then all that outlives a
    /// collection.
    /// </summary>
    internal static NodeReport ToReport(Report report, NodeReport? previous = null)
    {
        var settings = new ResourceSettings(report.Settings?.HasTimeoutSeconds == true ? report.Settings.TimeoutSeconds : null,
            report.Settings?.HasMaxmemoryPolicy == true ? report.Settings.MaxmemoryPolicy : null);
        var usage = report.PlanUsage;
        var plan = usage is null
            ? null
            : new PlanSample(Same(WireLimits.Printable(usage.Plan, 64), previous?.Plan?.Plan), usage.UsedMemoryBytes, usage.MemoryLimitBytes > 0 ? usage.MemoryLimitBytes : null,
                usage.ActiveConnections, usage.ConnectionLimit > 0 ? usage.ConnectionLimit : null, usage.SampledAt?.ToDateTimeOffset() ?? DateTimeOffset.MinValue);
        return new NodeReport(
            Vocabulary.Read(report.Role, report.RoleName),
            report.ReplicationOffset,
            report.LinkUp,
            string.IsNullOrEmpty(report.PrimaryAddress) ? null : Same(report.PrimaryAddress, previous?.PrimaryAddress),
            report.SyncInProgress,
            Vocabulary.Read(report.LocalVerdict, report.LocalVerdictName),
            report.Fenced,
            report.TermSeen,
            previous is not null && previous.Settings == settings ? previous.Settings : settings,
            Observations(report.Observations, previous?.Observations),
            report.FailoverRequest is { } request ? new FailoverAsk(Enum.IsDefined(request.Cause) ? request.Cause : FailoverCause.Unspecified, WireLimits.Printable(request.Reason, 500)) : null,
            report.SelfFencedAt?.ToDateTimeOffset(),
            Same(WireLimits.Printable(report.RedisVersion, 40), previous?.RedisVersion),
            Same(WireLimits.Printable(report.Persistence, 120), previous?.Persistence),
            previous is not null && previous.Plan == plan ? previous.Plan : plan);
    }

    private static IReadOnlyList<TargetSeen> Observations(IList<Observation> observations, IReadOnlyList<TargetSeen>? previous)
    {
        if (observations.Count == 0)
        {
            return [];
        }

        var seen = new TargetSeen[observations.Count];
        for (var i = 0; i < seen.Length; i++)
        {
            var before = previous is not null && i < previous.Count ? previous[i] : null;
            var now = ToSeen(observations[i], before?.Target);
            seen[i] = now == before ? before : now;
        }

        return seen;
    }

    /// <summary><paramref name="previous"/> when it is equal to <paramref name="value"/>, so that a report that repeats a string keeps no second copy.</summary>
    private static string Same(string value, string? previous) => previous is not null && string.Equals(value, previous, StringComparison.Ordinal) ? previous : value;

    /// <summary>An observation as the machine reads it, from this release's enums or the previous release's names.</summary>
    internal static TargetSeen ToSeen(Observation o, string? previousTarget = null) => new(
        Same(o.Target, previousTarget),
        Vocabulary.Read(o.Verdict, o.VerdictName),
        Vocabulary.Read(o.HostVerdict, o.HostVerdictName),
        o.At?.ToDateTimeOffset() ?? DateTimeOffset.MinValue,
        Vocabulary.Read(o.Port, o.PortName),
        o.HostSilentSince?.ToDateTimeOffset());

    private static partial class Log
    {
        [LoggerMessage(EventId = 2004, Level = LogLevel.Debug, Message = "{Resource}: {Node} reports {Role} at offset {Offset}, {Verdict}")]
        public static partial void Reported(ILogger logger, string resource, string node, NodeRole role, long offset, Verdict verdict);

        [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "{Resource}: {Node}'s stream cut: {Reason}")]
        public static partial void Cut(ILogger logger, string resource, string node, string reason);

        [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "{Resource}: {Node} sent an unexpected {Body}; ignored ({Count} ignored on this stream since the last such line; one a minute at most)")]
        public static partial void Ignored(ILogger logger, string resource, string node, string body, long count);
    }
}
