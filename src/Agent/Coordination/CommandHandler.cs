using System.Globalization;
using Microsoft.Extensions.Logging;
using RedisAgent.Connection;
using RedisFailover.Protos;

namespace RedisAgent.Coordination;

/// <summary>
/// Carries out one coordinator command: refused when its term is older than the highest this agent
/// has seen (recorded durably when it is newer), else dispatched to the node, the restart lease or the
/// report builder. Always answers with a result, never throws for a command it cannot carry out.
/// </summary>
internal sealed partial class CommandHandler(
    TermStore terms,
    NodeControl control,
    Supervision.RestartLease lease,
    ReportBuilder reports,
    ILogger<CommandHandler> logger)
{
    /// <param name="cancellationToken">The stream the command came on ended: a wait (CatchUp) is given up, not carried on for nobody.</param>
    public async Task<CommandResult> CarryOutAsync(Command command, CancellationToken cancellationToken = default)
    {
        var result = new CommandResult { CommandId = command.CommandId, Ok = true };
        if (!terms.TryAccept(command.Term, out var refusal))
        {
            result.Ok = false;
            result.Error = refusal;
            if (command.Term < terms.Highest)
            {
                Log.StaleTerm(logger, command.ActionCase.ToString(), command.Term, terms.Highest);
            }
            else
            {
                Log.TermLeap(logger, command.ActionCase.ToString(), refusal!);
            }

            return result;
        }

        try
        {
            switch (command.ActionCase)
            {
                case Command.ActionOneofCase.ProbeNow:
                    result.Observation = reports.Observe(command.ProbeNow.Target)
                        ?? throw new InvalidOperationException($"this agent does not watch '{RedisShared.Hosting.Quoted.Printable(command.ProbeNow.Target)}'");
                    return result;
                case Command.ActionOneofCase.Promote:
                    await control.PromoteAsync().ConfigureAwait(false);
                    break;
                case Command.ActionOneofCase.ReplicateFrom:
                    await control.ReplicateFromAsync(command.ReplicateFrom.Address).ConfigureAwait(false);
                    break;
                case Command.ActionOneofCase.ApplySettings:
                    var settings = command.ApplySettings.Settings ?? new Settings();
                    await control.ApplySettingsAsync(settings.HasTimeoutSeconds ? settings.TimeoutSeconds : null, settings.HasMaxmemoryPolicy ? settings.MaxmemoryPolicy : null).ConfigureAwait(false);
                    break;
                case Command.ActionOneofCase.Fence:
                    // A primary's fence says where its stream stopped: a switchover waits for its target to get there.
                    if (reports.Role == NodeRole.Primary)
                    {
                        result.ReplicationOffset = await control.FenceForSwitchoverAsync().ConfigureAwait(false);
                    }
                    else
                    {
                        await control.FenceAsync().ConfigureAwait(false);
                    }

                    break;
                case Command.ActionOneofCase.CatchUp:
                    result.ReplicationOffset = await control.CatchUpAsync(command.CatchUp.Offset, TimeSpan.FromMilliseconds(Math.Clamp(command.CatchUp.TimeoutMs, 1, 60_000)), cancellationToken).ConfigureAwait(false);
                    break;
                case Command.ActionOneofCase.Unfence:
                    await control.UnfenceAsync().ConfigureAwait(false);
                    break;
                case Command.ActionOneofCase.RestartLease:
                    Lease(command.RestartLease, command.Term);
                    return result;
                default:
                    throw new InvalidOperationException($"unknown command {command.ActionCase}");
            }

            Log.Carried(logger, command.ActionCase.ToString(), command.Term, Describe(command));
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or InvalidOperationException or ArgumentException or TimeoutException)
        {
            result.Ok = false;
            result.Error = ex.Message;
            Log.Failed(logger, command.ActionCase.ToString(), ex.Message);
        }

        return result;
    }

    private void Lease(RestartLease grant, long term)
    {
        if (grant.Granted && grant.TtlMs <= 0)
        {
            throw new ArgumentException($"a restart lease needs a positive ttl_ms, not {grant.TtlMs}");
        }

        var changed = grant.Granted
            ? lease.Grant(TimeSpan.FromMilliseconds(grant.TtlMs), grant.FenceOnStart, grant.NoStandby, grant.NotPrimary)
            : lease.End(grant.Reason);
        if (changed)
        {
            Log.Lease(logger, grant.Granted ? "granted" : "ended", term, grant.Granted ? $"ttl {grant.TtlMs} ms{(grant.FenceOnStart ? ", fence on start" : "")}{(grant.NoStandby ? ", no standby in sync" : "")}{(grant.NotPrimary ? ", not the primary" : "")}" : grant.Reason);
        }
    }

    private static string Describe(Command command) => command.ActionCase switch
    {
        Command.ActionOneofCase.ReplicateFrom => "from " + command.ReplicateFrom.Address,
        Command.ActionOneofCase.ApplySettings => command.ApplySettings.Settings?.ToString() ?? "",
        Command.ActionOneofCase.Fence => command.Fence.Reason,
        _ => "",
    };

    private static partial class Log
    {
        [LoggerMessage(EventId = 1604, Level = LogLevel.Warning, Message = "Refused {Command} of term {Term}: this agent has seen term {Highest}")]
        public static partial void StaleTerm(ILogger logger, string command, long term, long highest);

        [LoggerMessage(EventId = 1613, Level = LogLevel.Critical, Message = "Refused {Command}: {Refusal}")]
        public static partial void TermLeap(ILogger logger, string command, string refusal);

        [LoggerMessage(EventId = 1605, Level = LogLevel.Warning, Message = "Carried out the coordinator's {Command} (term {Term}) {Detail}")]
        public static partial void Carried(ILogger logger, string command, long term, string detail);

        [LoggerMessage(EventId = 1609, Level = LogLevel.Information, Message = "Restart lease {What} by the coordinator (term {Term}): {Detail}")]
        public static partial void Lease(ILogger logger, string what, long term, string detail);

        [LoggerMessage(EventId = 1606, Level = LogLevel.Error, Message = "Could not carry out the coordinator's {Command}: {Error}")]
        public static partial void Failed(ILogger logger, string command, string error);
    }
}
