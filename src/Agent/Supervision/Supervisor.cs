using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.Node;
using RedisAgent.Probing;

namespace RedisAgent.Supervision;

/// <summary>
/// Acts on the local node's state: restarts it through the driver when only the process died
/// or hung, within the restart policy, and stops (asking for a failover) when restarting is
/// unsafe or hopeless. All decisions are taken on this loop, one signal at a time.
/// </summary>
internal sealed partial class Supervisor : BackgroundService
{
    private readonly IRestartDriver _driver;
    private readonly SupervisorInbox _inbox;
    private readonly NodeStatus _status;
    private readonly RestartOptions _options;
    private readonly RestartPolicy _policy;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SecretRedactor _redactor;
    private readonly RestartLease _lease;
    private readonly Coordination.NodeControl? _control;

    private SupervisorPhase _phase = SupervisorPhase.Watching;
    private RestartCause? _pendingCause;
    private DateTimeOffset? _restartDue;
    private TimeSpan _pendingDelay;
    private DateTimeOffset? _restartedAt;
    private DateTimeOffset _phaseSince;
    private DateTimeOffset? _startDeadline;
    private PortProbeResult? _lastProbe;

    public Supervisor(
        IRestartDriver driver,
        SupervisorInbox inbox,
        NodeStatus status,
        IOptions<RestartOptions> options,
        SecretRedactor redactor,
        TimeProvider time,
        ILogger<Supervisor> logger,
        RestartLease? lease = null,
        Coordination.NodeControl? control = null)
    {
        _driver = driver;
        _inbox = inbox;
        _status = status;
        _options = options.Value;
        _policy = new RestartPolicy(_options);
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
        SetPhase(SupervisorPhase.Stopped);
        await _driver.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var signal = await NextSignalAsync(stoppingToken).ConfigureAwait(false);
                switch (signal)
                {
                    case SupervisorSignal.Probed probed:
                        OnProbed(probed);
                        break;
                    case SupervisorSignal.HostProbed hostProbed:
                        OnVerdictChange(hostProbed.Change);
                        break;
                    case SupervisorSignal.ProcessExited exited:
                        OnExited(exited);
                        break;
                    case SupervisorSignal.LeaseChanged:
                        OnLeaseChanged();
                        break;
                    default:
                        OnDeadline();
                        break;
                }

                if (_phase == SupervisorPhase.RestartPending && _time.GetUtcNow() >= _restartDue)
                {
                    await RestartAsync(stoppingToken).ConfigureAwait(false);
                }
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

    private async Task<SupervisorSignal?> NextSignalAsync(CancellationToken stoppingToken)
    {
        if (_inbox.Reader.TryRead(out var ready))
        {
            return ready;
        }

        var deadline = _phase switch
        {
            SupervisorPhase.RestartPending => _restartDue,
            SupervisorPhase.Starting => _startDeadline,
            _ => null,
        };
        if (deadline is null)
        {
            return await _inbox.Reader.ReadAsync(stoppingToken).ConfigureAwait(false);
        }

        var wait = deadline.Value - _time.GetUtcNow();
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

    private void OnProbed(SupervisorSignal.Probed probed)
    {
        _lastProbe = probed.Result;
        var now = _time.GetUtcNow();
        if (probed.Result.Outcome == PortProbeOutcome.Pong)
        {
            _policy.OnHealthy(now);
        }

        // The verdict lags: the exec driver reports an exit at once, while the probes still hold the
        // old "Healthy" for a few observations. So leaving a phase takes a probe that itself answered
        // and began after the phase did, on top of a verdict that says the node is alive.
        var back = probed.Verdict is NodeVerdict.Healthy or NodeVerdict.Busy or NodeVerdict.Misconfigured
                   && probed.Result.ProcessAnswered
                   && probed.Result.At >= _phaseSince;

        switch (_phase)
        {
            case SupervisorPhase.Starting when back:
                Log.BackUp(_logger, (now - _restartedAt!.Value).TotalMilliseconds, probed.Verdict);
                SetPhase(SupervisorPhase.Watching);
                FenceAfterRestart();
                break;
            case SupervisorPhase.GaveUp or SupervisorPhase.Refused or SupervisorPhase.HostUnreachable or SupervisorPhase.AwaitingLease when back:
                Log.Recovered(_logger, probed.Verdict);
                SetPhase(SupervisorPhase.Watching);
                break;
            case SupervisorPhase.RestartPending when back && _pendingCause?.Trigger != RestartTrigger.Exited:
                // Someone else brought it back while we waited out the backoff.
                Log.RestartCancelled(_logger, probed.Verdict);
                SetPhase(SupervisorPhase.Watching);
                break;
            default:
                OnVerdictChange(probed.Change);
                break;
        }
    }

    /// <summary>Acts on a verdict change, whichever probe (port or host) brought it.</summary>
    private void OnVerdictChange(VerdictChange? change)
    {
        switch (_phase, change?.To)
        {
            case (SupervisorPhase.Watching or SupervisorPhase.Starting or SupervisorPhase.RestartPending or SupervisorPhase.AwaitingLease, NodeVerdict.HostUnreachable):
                // A lost host is a failover's business: restarting would only burn the start limit.
                SetPhase(SupervisorPhase.HostUnreachable, "host unreachable: neither the Redis port nor the host answers over SSH");
                Log.HostLost(_logger, Describe(change!));
                break;
            case (SupervisorPhase.HostUnreachable, NodeVerdict.ProcessDown):
                // The host answers again but Redis does not: now it is a restart's business.
                SetPhase(SupervisorPhase.Watching);
                Fail(new RestartCause(RestartTrigger.ProbeFailures, "host answers again, Redis does not: " + Describe(change!)));
                break;
            case (SupervisorPhase.Watching, NodeVerdict.ProcessDown):
                Fail(new RestartCause(RestartTrigger.ProbeFailures, Describe(change!)));
                break;
            case (SupervisorPhase.Watching, NodeVerdict.Hung):
                Fail(new RestartCause(RestartTrigger.Hang, Describe(change!)));
                break;
        }
    }

    private void OnExited(SupervisorSignal.ProcessExited exited)
    {
        _status.RecordExit(exited.Status);
        Log.ProcessExited(_logger, exited.ProcessId, exited.Status.ToString());
        if (_phase is SupervisorPhase.Watching or SupervisorPhase.Starting)
        {
            Fail(new RestartCause(RestartTrigger.Exited, $"pid {exited.ProcessId} {exited.Status}"));
        }
    }

    private void OnDeadline()
    {
        if (_phase == SupervisorPhase.Starting && _time.GetUtcNow() >= _startDeadline)
        {
            var last = _lastProbe is { } p ? $"{p.Outcome}{(p.Detail is null ? "" : " (" + p.Detail + ")")}" : "no probe yet";
            Fail(new RestartCause(
                RestartTrigger.StartTimeout,
                $"not answering {_options.StartTimeout.TotalSeconds:0.#} s after the restart; last probe: {last}"));
        }
    }

    private void Fail(RestartCause cause)
    {
        var now = _time.GetUtcNow();
        _policy.OnFailure(now);

        var guard = PersistenceGuard.Check(_status.Snapshot.Facts);
        if (!guard.IsAllowed)
        {
            _status.RecordRefusal();
            SetPhase(SupervisorPhase.Refused, "restart refused: " + guard.Reason);
            Log.RestartRefused(_logger, cause.ToString(), guard.Reason!);
            return;
        }

        if (guard.Reason is { } note)
        {
            Log.GuardNote(_logger, note);
        }

        if (_driver is ObserveOnlyDriver)
        {
            Log.ObserveOnly(_logger, cause.ToString());
            return;
        }

        if (_policy.IsLimitReached(now))
        {
            var reason = $"start limit reached: {_options.StartLimitBurst} restarts within {_options.StartLimitInterval.TotalSeconds:0.#} s";
            SetPhase(SupervisorPhase.GaveUp, reason);
            Log.GaveUp(_logger, reason, cause.ToString());
            return;
        }

        _pendingCause = cause;
        if (!_lease.IsHeld)
        {
            Hold();
            return;
        }

        Schedule(now);
    }

    /// <summary>No restart lease: the restart waits for the coordinator's grant (and is not a failover's business either).</summary>
    private void Hold()
    {
        if (_phase != SupervisorPhase.AwaitingLease)
        {
            Log.AwaitingLease(_logger, _lease.WhyNotHeld, _pendingCause!.ToString());
        }

        _restartDue = null;
        SetPhase(SupervisorPhase.AwaitingLease);
    }

    private void OnLeaseChanged()
    {
        if (_phase == SupervisorPhase.AwaitingLease && _lease.IsHeld && _pendingCause is not null)
        {
            Log.LeaseGranted(_logger, _pendingCause.ToString());
            Schedule(_time.GetUtcNow());
        }
    }

    private void Schedule(DateTimeOffset now)
    {
        var cause = _pendingCause!;

        _pendingDelay = _policy.NextDelay(Random.Shared.NextDouble());
        _restartDue = now + _pendingDelay;
        SetPhase(SupervisorPhase.RestartPending);
        if (_pendingDelay > TimeSpan.Zero)
        {
            Log.RestartScheduled(_logger, _pendingDelay.TotalMilliseconds, cause.ToString());
        }
    }

    private async Task RestartAsync(CancellationToken stoppingToken)
    {
        var cause = _pendingCause!;
        var now = _time.GetUtcNow();
        if (!_lease.IsHeld)
        {
            // The lease ended or ran out during the backoff.
            Hold();
            return;
        }

        _restartDue = null;
        _policy.RecordRestart(now);
        var record = new RestartRecord(now, cause, _policy.Consecutive, _pendingDelay);
        _status.RecordRestart(record);
        try
        {
            await _driver.RestartAsync(cause, stoppingToken).ConfigureAwait(false);
            Log.Restarted(_logger, _driver.Name, cause.Trigger, cause.Detail, record.Attempt);
            _restartedAt = now;
            _startDeadline = now + _options.StartTimeout;
            SetPhase(SupervisorPhase.Starting);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            // Whatever went wrong, it is a failed restart: counted, backed off, limited. Leaving the
            // phase as it was would strand the node with no restart pending and none coming.
            var message = _redactor.Redact(ex is RestartFailedException ? ex.Message : $"{ex.GetType().Name}: {ex.Message}");
            Log.RestartFailed(_logger, _driver.Name, message);
            SetPhase(SupervisorPhase.Watching);
            Fail(new RestartCause(RestartTrigger.RestartFailed, message));
        }
    }

    /// <summary>
    /// A restart brings Redis back without the fence it had (CLIENT PAUSE dies with the process), and
    /// as a primary when its configuration says so. If it was fenced, or the coordinator says it is not
    /// the resource's primary, writes are refused again at once; the coordinator then demotes it.
    /// </summary>
    private void FenceAfterRestart()
    {
        if (_control is null || !(_control.Fenced || _lease.FenceOnStart))
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await _control.FenceAsync().ConfigureAwait(false);
                Log.FencedAfterRestart(_logger);
            }
            catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
            {
                Log.FenceAfterRestartFailed(_logger, _redactor.Redact(ex.Message));
            }
        });
    }

    private void SetPhase(SupervisorPhase phase, string? needsFailover = null)
    {
        if (phase != _phase)
        {
            _phaseSince = _time.GetUtcNow();
        }

        _phase = phase;
        _status.SetPhase(phase, needsFailover);
    }

    private static string Describe(VerdictChange change)
    {
        var evidence = change.Evidence;
        return $"{change.Observations} consecutive failed probes, last: {evidence.Outcome}" +
               (evidence.Detail is null ? "" : $" ({evidence.Detail})") +
               (change.HostEvidence is { } host ? $"; host over SSH: {host.Outcome}" + (host.Detail is null ? "" : $" ({host.Detail})") : "");
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

        [LoggerMessage(EventId = 1113, Level = LogLevel.Warning, Message = "Redis needs a restart, held until the coordinator grants a restart lease: {Why}. Trigger: {Cause}")]
        public static partial void AwaitingLease(ILogger logger, string why, string cause);

        [LoggerMessage(EventId = 1114, Level = LogLevel.Information, Message = "Restart lease granted; restarting. Trigger: {Cause}")]
        public static partial void LeaseGranted(ILogger logger, string cause);

        [LoggerMessage(EventId = 1115, Level = LogLevel.Warning, Message = "Fenced redis (writes paused) right after its restart: it was fenced before, or the coordinator says it is not the primary")]
        public static partial void FencedAfterRestart(ILogger logger);

        [LoggerMessage(EventId = 1116, Level = LogLevel.Error, Message = "Could not fence redis after its restart: {Error}")]
        public static partial void FenceAfterRestartFailed(ILogger logger, string error);

        [LoggerMessage(EventId = 1199, Level = LogLevel.Error, Message = "The supervisor loop failed and carries on: {Error}")]
        public static partial void LoopFailed(ILogger logger, string error);
    }
}
