using Grpc.Core;
using Microsoft.Extensions.Logging;
using RedisFailover.Coordination;
using RedisFailover.Protos;

namespace RedisFailover.Services;

/// <summary>The agents' stream: registration, then reports and results up, commands down.</summary>
internal sealed partial class AgentLinkService(Coordinator coordinator, ILogger<AgentLinkService> logger) : AgentLink.AgentLinkBase
{
    public override async Task Connect(IAsyncStreamReader<AgentMessage> requestStream, IServerStreamWriter<CoordinatorMessage> responseStream, ServerCallContext context)
    {
        if (!await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false) || requestStream.Current.BodyCase != AgentMessage.BodyOneofCase.Registration)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "the first message on the stream must be a registration"));
        }

        var registration = requestStream.Current.Registration;
        var resource = coordinator[registration.Resource]
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"unknown resource '{registration.Resource}'"));
        if (!resource.Machine.Knows(registration.Node))
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"resource '{registration.Resource}' has no node '{registration.Node}'"));
        }

        var session = resource.Attach(registration.Node, registration.TermSeen);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, session.Replaced.Token);
        var writer = WriteAsync(session, responseStream, stop.Token);
        try
        {
            while (await requestStream.MoveNext(stop.Token).ConfigureAwait(false))
            {
                var message = requestStream.Current;
                switch (message.BodyCase)
                {
                    case AgentMessage.BodyOneofCase.Report:
                        var report = ToReport(message.Report);
                        Log.Reported(logger, registration.Resource, session.Node, report.Role, report.ReplicationOffset, report.LocalVerdict);
                        resource.Step((machine, now) => machine.Reported(session.Node, report, now));
                        if (message.Report.Sequence != 0)
                        {
                            session.Outbound.Writer.TryWrite(new CoordinatorMessage { ReportAck = new ReportAck { Sequence = message.Report.Sequence } });
                        }

                        break;
                    case AgentMessage.BodyOneofCase.Result:
                        resource.Answered(session.Node, message.Result);
                        break;
                    default:
                        Log.Ignored(logger, registration.Resource, session.Node, message.BodyCase.ToString());
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or RpcException)
        {
            // The agent went away: the session ends below.
        }
        finally
        {
            resource.Detach(session);
            await stop.CancelAsync().ConfigureAwait(false);
            session.Replaced.Dispose();
            try
            {
                await writer.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException or RpcException)
            {
            }
        }
    }

    private static async Task WriteAsync(AgentSession session, IServerStreamWriter<CoordinatorMessage> stream, CancellationToken cancellationToken)
    {
        await foreach (var message in session.Outbound.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            await stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
    }

    internal static NodeReport ToReport(Report report) => new(
        string.IsNullOrEmpty(report.Role) ? "unknown" : report.Role,
        report.ReplicationOffset,
        report.LinkUp,
        string.IsNullOrEmpty(report.PrimaryAddress) ? null : report.PrimaryAddress,
        report.SyncInProgress,
        string.IsNullOrEmpty(report.LocalVerdict) ? "Unknown" : report.LocalVerdict,
        report.Fenced,
        report.TermSeen,
        new ResourceSettings(report.Settings?.HasTimeoutSeconds == true ? report.Settings.TimeoutSeconds : null,
            report.Settings?.HasMaxmemoryPolicy == true ? report.Settings.MaxmemoryPolicy : null),
        [.. report.Observations.Select(o => new TargetSeen(o.Target, o.Verdict, o.HostVerdict, o.At?.ToDateTimeOffset() ?? DateTimeOffset.MinValue, o.Detail))]);

    private static partial class Log
    {
        [LoggerMessage(EventId = 2004, Level = LogLevel.Debug, Message = "{Resource}: {Node} reports {Role} at offset {Offset}, {Verdict}")]
        public static partial void Reported(ILogger logger, string resource, string node, string role, long offset, string verdict);

        [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "{Resource}: {Node} sent an unexpected {Body}; ignored")]
        public static partial void Ignored(ILogger logger, string resource, string node, string body);
    }
}
