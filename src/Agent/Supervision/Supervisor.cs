using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.Node;
using RedisAgent.Probing;

namespace RedisAgent.Supervision;

/// <summary>
/// The supervisor's loop: feeds each input (from its inbox, or the clock) to the pure
/// <see cref="SupervisorMachine"/> with the context of the moment, and carries out what it answers:
/// restarts through the driver, the fence after a restart, status and logs. One input at a time.
/// </summary>
internal sealed partial class Supervisor : BackgroundService
{
    private readonly IRestartDriver _driver;
    private readonly SupervisorInbox _inbox;
    private readonly NodeStatus _status;
    private readonly SupervisorMachine _machine;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SecretRedactor _redactor;
    private readonly RestartLease _lease;
    private readonly Connection.NodeControl? _control;

    // The fence after a restart runs beside the loop (a hung Redis must not hold supervision up);
    // it is tracked so that a stop waits for it.
    private Task _fence = Task.CompletedTask;

    // A restart that went ahead without the coordinator (RestartLease.Alone) from a replica: the
    // primary it replicated from, which it is pointed at again as soon as it answers.
    private string? _replicaOfAlone;

    // The node's own min-replicas-to-write, put back when a start fence is lifted (never the fence's value).
    private long _minReplicasToWrite;

    public Supervisor(
        IRestartDriver driver,
        SupervisorInbox inbox,
        NodeStatus status,
        IOptions<RestartOptions> options,
        SecretRedactor redactor,
        TimeProvider time,
        ILogger<Supervisor> logger,
        RestartLease? lease = null,
        Connection.NodeControl? control = null)
    {
        _driver = driver;
        _inbox = inbox;
        _status = status;
        _machine = new SupervisorMachine(options.Value, driver.CanRestart, Random.Shared.NextDouble, time.GetUtcNow());
        _redactor = redactor;
        _time = time;
        _logger = logger;
        _lease = lease ?? new RestartLease(time, required: false);
        _control = control;
        _lease.Changed += () => _inbox.Post(new SupervisorSignal.LeaseChanged());
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Before the host reports started (and systemd gets READY=1): the exec driver's server is up.
        await _driver.StartAsync(cancellationToken).ConfigureAwait(false);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        Apply(_machine.Stop(_time.GetUtcNow()));
        await _fence.ConfigureAwait(false);
        await _driver.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var signal = await NextSignalAsync(stoppingToken).ConfigureAwait(false);
                var effects = signal switch
                {
                    SupervisorSignal.Probed probed => _machine.Probed(probed.Result, probed.Verdict, probed.Change, Context()),
                    SupervisorSignal.HostProbed hostProbed => _machine.HostProbed(hostProbed.Change, Context()),
                    SupervisorSignal.ProcessExited exited => Exited(exited),
                    SupervisorSignal.LeaseChanged => _machine.LeaseChanged(Context()),
                    _ => [],
                };
                await CarryOutAsync(effects, stoppingToken).ConfigureAwait(false);
                await CarryOutAsync(_machine.Tick(Context()), stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // One bad signal must not end supervision.
                Log.LoopFailed(_logger, _redactor.Redact(ex.ToString()));
            }
        }
    }

    private SupervisorContext Context() => new(
        _time.GetUtcNow(), _status.Snapshot.Facts, _lease.IsHeld, _lease.WhyNotHeld, _lease.FenceOnStart, _control?.Fenced ?? false, _lease.NoStandby, _lease.NotPrimary, _lease.Alone);

    private IReadOnlyList<SupervisorEffect> Exited(SupervisorSignal.ProcessExited exited)
    {
        _status.RecordExit(exited.Status);
        Log.ProcessExited(_logger, exited.ProcessId, exited.Status.ToString());
        return _machine.Exited(exited.ProcessId, exited.Status, Context());
    }

    /// <summary>The next input, or null when the machine's deadline (a backoff's end, a start timeout) comes first.</summary>
    private async Task<SupervisorSignal?> NextSignalAsync(CancellationToken stoppingToken)
    {
        if (_inbox.Reader.TryRead(out var ready))
        {
            return ready;
        }

        if (_machine.Deadline is not { } deadline)
        {
            return await _inbox.Reader.ReadAsync(stoppingToken).ConfigureAwait(false);
        }

        var wait = deadline - _time.GetUtcNow();
        if (wait <= TimeSpan.Zero)
        {
            return null;
        }

        using var timeout = new CancellationTokenSource(wait, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timeout.Token);
        try
        {
            return await _inbox.Reader.ReadAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return null;
        }
    }

    private async Task CarryOutAsync(IReadOnlyList<SupervisorEffect> effects, CancellationToken stoppingToken)
    {
        foreach (var effect in effects)
        {
            if (effect is SupervisorEffect.Restart restart)
            {
                await RestartAsync(restart, stoppingToken).ConfigureAwait(false);
            }
            else
            {
                Apply(effect);
            }
        }
    }

    private void Apply(IReadOnlyList<SupervisorEffect> effects)
    {
        foreach (var effect in effects)
        {
            Apply(effect);
        }
    }

    private void Apply(SupervisorEffect effect)
    {
        switch (effect)
        {
            case SupervisorEffect.PhaseChanged phase:
                _status.SetPhase(phase.Phase, phase.NeedsFailover, _machine.State is SupervisorState.Hopeless hopeless ? hopeless.Guard : GuardKind.None);
                break;
            case SupervisorEffect.Fence:
                FenceAfterRestart();
                break;
            case SupervisorEffect.Refused refused:
                _status.RecordRefusal();
                Log.RestartRefused(_logger, refused.Cause, refused.Reason);
                break;
            case SupervisorEffect.GuardNote note:
                Log.GuardNote(_logger, note.Note);
                break;
            case SupervisorEffect.ObserveOnly observe:
                Log.ObserveOnly(_logger, observe.Cause);
                break;
            case SupervisorEffect.GaveUp gaveUp:
                Log.GaveUp(_logger, gaveUp.Reason, gaveUp.Cause);
                break;
            case SupervisorEffect.HostLost lost:
                Log.HostLost(_logger, lost.Evidence);
                break;
            case SupervisorEffect.Scheduled scheduled:
                Log.RestartScheduled(_logger, scheduled.Delay.TotalMilliseconds, scheduled.Cause);
                break;
            case SupervisorEffect.HeldForLease held:
                Log.AwaitingLease(_logger, held.Why, held.Cause);
                break;
            case SupervisorEffect.LeaseGranted granted:
                Log.LeaseGranted(_logger, granted.Cause);
                break;
            case SupervisorEffect.BackUp back:
                Log.BackUp(_logger, back.After.TotalMilliseconds, back.Verdict);
                break;
            case SupervisorEffect.Recovered recovered:
                Log.Recovered(_logger, recovered.Verdict);
                break;
            case SupervisorEffect.Cancelled cancelled:
                Log.RestartCancelled(_logger, cancelled.Verdict);
                break;
            case SupervisorEffect.Restarted restarted:
                Log.Restarted(_logger, _driver.Name, restarted.Cause.Trigger, restarted.Cause.Detail, restarted.Attempt);
                break;
            case SupervisorEffect.RestartError error:
                Log.RestartFailed(_logger, _driver.Name, error.Message);
                break;
        }
    }

    private async Task RestartAsync(SupervisorEffect.Restart restart, CancellationToken stoppingToken)
    {
        _replicaOfAlone = null;
        if (_lease.Alone)
        {
            // The facts are the dead process's last (a dead Redis is not sampled): what it was.
            var facts = _status.Snapshot.Facts;
            _replicaOfAlone = facts is { Role: RedisFailover.Protos.NodeRole.Replica, PrimaryAddress: { Length: > 0 } primary } ? primary : null;
            Log.RestartingAlone(_logger, _lease.WhyNotHeld, _replicaOfAlone is { } of ? "as a replica of " + of + ", its primary before it died" : "refusing writes (reads served) until a coordinator says it is still the primary");
        }

        var cause = restart.Cause;
        if (_control is { } control && _lease.FenceOnStart)
        {
            // Fenced from its first command, not from the first probe that sees it back: a client that
            // reconnects within those milliseconds must not write to a node nobody vouches for.
            if (_status.Snapshot.Facts?.MinReplicasToWrite is { } own && !Connection.NodeControl.IsStartFence(own))
            {
                _minReplicasToWrite = own;
            }

            cause = cause with { StartArguments = Connection.NodeControl.FencedStartArguments };
            control.StartedFenced(_minReplicasToWrite);
        }

        _status.RecordRestart(restart.Record);
        IReadOnlyList<SupervisorEffect> outcome;
        try
        {
            await _driver.RestartAsync(cause, stoppingToken).ConfigureAwait(false);
            outcome = _machine.Restarted(restart.Record.Attempt, _time.GetUtcNow());
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            var message = _redactor.Redact(ex is RestartFailedException ? ex.Message : $"{ex.GetType().Name}: {ex.Message}");
            outcome = _machine.RestartFailed(message, Context());
        }

        await CarryOutAsync(outcome, stoppingToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A restart brings Redis back without the fence it had (CLIENT PAUSE dies with the process), and
    /// as a primary when its configuration says so. If it was fenced, or the coordinator says it is not
    /// the resource's primary, writes are refused again at once; the coordinator then demotes it.
    /// </summary>
    private void FenceAfterRestart()
    {
        if (_control is not { } control || !_fence.IsCompleted)
        {
            return;
        }

        var replicaOf = _replicaOfAlone;
        _replicaOfAlone = null;
        _fence = Task.Run(async () =>
        {
            try
            {
                await control.FenceAsync().ConfigureAwait(false);
                Log.FencedAfterRestart(_logger);
                if (replicaOf is not null)
                {
                    // A replica restarted while no coordinator answers comes back as one (its configuration
                    // may say primary): it follows its last primary, and refuses writes by itself.
                    await control.ReplicateFromAsync(replicaOf).ConfigureAwait(false);
                    Log.ReplicaAgain(_logger, replicaOf);
                }
            }
            catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
            {
                Log.FenceAfterRestartFailed(_logger, _redactor.Redact(ex.Message));
            }
        });
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Restarted redis with the {Driver} driver (attempt {Attempt}); reason: {Trigger}: {Detail}")]
        public static partial void Restarted(ILogger logger, string driver, RestartTrigger trigger, string detail, int attempt);

        [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "Redis is back ({Verdict}) {Milliseconds:0} ms after the restart")]
        public static partial void BackUp(ILogger logger, double milliseconds, NodeVerdict verdict);

        [LoggerMessage(EventId = 1103, Level = LogLevel.Warning, Message = "redis-server pid {Pid} ended: {Status}")]
        public static partial void ProcessExited(ILogger logger, int pid, string status);

        [LoggerMessage(EventId = 1104, Level = LogLevel.Information, Message = "Next restart in {Milliseconds:0} ms (backoff); reason: {Cause}")]
        public static partial void RestartScheduled(ILogger logger, double milliseconds, string cause);

        [LoggerMessage(EventId = 1105, Level = LogLevel.Error, Message = "Restart with the {Driver} driver failed: {Message}")]
        public static partial void RestartFailed(ILogger logger, string driver, string message);

        [LoggerMessage(EventId = 1106, Level = LogLevel.Critical, Message = "NOT restarting redis: {Reason}. This node needs a failover. Trigger: {Cause}")]
        public static partial void RestartRefused(ILogger logger, string cause, string reason);

        [LoggerMessage(EventId = 1107, Level = LogLevel.Critical, Message = "Giving up restarting redis: {Reason}. This node needs a failover. Last trigger: {Cause}")]
        public static partial void GaveUp(ILogger logger, string reason, string cause);

        [LoggerMessage(EventId = 1108, Level = LogLevel.Warning, Message = "Redis answers again ({Verdict}); supervision resumes")]
        public static partial void Recovered(ILogger logger, NodeVerdict verdict);

        [LoggerMessage(EventId = 1109, Level = LogLevel.Information, Message = "Redis answered ({Verdict}) before the pending restart; restart cancelled")]
        public static partial void RestartCancelled(ILogger logger, NodeVerdict verdict);

        [LoggerMessage(EventId = 1110, Level = LogLevel.Warning, Message = "Restarting although {Note}")]
        public static partial void GuardNote(ILogger logger, string note);

        [LoggerMessage(EventId = 1111, Level = LogLevel.Warning, Message = "Redis needs a restart but the restart driver is 'none': {Cause}")]
        public static partial void ObserveOnly(ILogger logger, string cause);

        [LoggerMessage(EventId = 1112, Level = LogLevel.Critical, Message = "NOT restarting redis: its host is unreachable ({Evidence}). This node needs a failover")]
        public static partial void HostLost(ILogger logger, string evidence);

        [LoggerMessage(EventId = 1117, Level = LogLevel.Warning, Message = "Restarting redis without the coordinator ({Why}): it comes back {How}")]
        public static partial void RestartingAlone(ILogger logger, string why, string how);

        [LoggerMessage(EventId = 1118, Level = LogLevel.Warning, Message = "Redis restarted without the coordinator replicates from {Primary} again, as before it died")]
        public static partial void ReplicaAgain(ILogger logger, string primary);

        [LoggerMessage(EventId = 1113, Level = LogLevel.Warning, Message = "Redis needs a restart, held until the coordinator grants a restart lease: {Why}. Trigger: {Cause}")]
        public static partial void AwaitingLease(ILogger logger, string why, string cause);

        [LoggerMessage(EventId = 1114, Level = LogLevel.Information, Message = "Restart lease granted; restarting. Trigger: {Cause}")]
        public static partial void LeaseGranted(ILogger logger, string cause);

        [LoggerMessage(EventId = 1115, Level = LogLevel.Warning, Message = "Fenced redis (writes paused) right after its restart: it was fenced before, the coordinator says it is not the primary, or no coordinator answers")]
        public static partial void FencedAfterRestart(ILogger logger);

        [LoggerMessage(EventId = 1116, Level = LogLevel.Error, Message = "Could not fence redis after its restart: {Error}")]
        public static partial void FenceAfterRestartFailed(ILogger logger, string error);

        [LoggerMessage(EventId = 1199, Level = LogLevel.Error, Message = "The supervisor loop failed and carries on: {Error}")]
        public static partial void LoopFailed(ILogger logger, string error);
    }
}
