using RedisAgent.Probing;
using RedisAgent.Sampling;
using RedisAgent.Node;

namespace RedisAgent.Supervision;

/// <summary>
/// What the supervisor knows besides the input itself, read by its loop at the moment of the input:
/// the time, the node's last INFO facts (for the persistence guard), the restart lease, the fence.
/// </summary>
internal readonly record struct SupervisorContext(
    DateTimeOffset Now,
    NodeFacts? Facts = null,
    bool LeaseHeld = true,
    string LeaseWhyNotHeld = "",
    bool FenceOnStart = false,
    bool Fenced = false,
    bool NoStandby = false,
    bool NotPrimary = false,
    bool Alone = false)
{
    /// <summary>
    /// Why the coordinator's word lifts a refusal of kind <paramref name="kind"/> (or the start limit,
    /// <see cref="GuardKind.None"/>); null when it does not. No standby in sync: nothing can replace the
    /// node, so restarting it, even from older data, is the only way back (never from no data: its
    /// replicas still hold some). Not the primary: another node is, and this one comes back fenced and
    /// is made its replica, whatever it loads. No coordinator answers (<see cref="Alone"/>): nobody can
    /// fail the node over, so the start limit only spaces the restarts out (they come back fenced);
    /// the persistence guard still holds, since a coordinator that returns would lift the fence.
    /// </summary>
    public string? Lifts(GuardKind kind) => NotPrimary
        ? "the coordinator made another node the primary: this one is restarted to be rebuilt as its replica"
        : NoStandby && kind != GuardKind.NoPersistence
            ? "the coordinator has no standby in sync to fail over to: restarting is the only way back"
            : Alone && kind == GuardKind.None
                ? "no coordinator answers to fail it over: restarting, fenced, is the only way back"
                : null;
}

/// <summary>Where the supervisor stands, with what that place needs and nothing else.</summary>
internal abstract record SupervisorState
{
    public abstract SupervisorPhase Phase { get; }

    /// <summary>Why the node needs a failover, in the phases that say so.</summary>
    public virtual string? NeedsFailover => null;

    /// <summary>The node is believed to be running.</summary>
    public sealed record Watching : SupervisorState
    {
        public override SupervisorPhase Phase => SupervisorPhase.Watching;
    }

    /// <summary>A restart waits out its backoff until <paramref name="Due"/>.</summary>
    public sealed record Pending(RestartCause Cause, DateTimeOffset Due, TimeSpan Delay) : SupervisorState
    {
        public override SupervisorPhase Phase => SupervisorPhase.RestartPending;
    }

    /// <summary>The driver is carrying out the restart decided at <paramref name="At"/>; its outcome is the next input.</summary>
    public sealed record Restarting(RestartCause Cause, DateTimeOffset At) : SupervisorState
    {
        public override SupervisorPhase Phase => SupervisorPhase.RestartPending;
    }

    /// <summary>Restarted at <paramref name="At"/>; it must answer before <paramref name="Deadline"/>.</summary>
    public sealed record Starting(DateTimeOffset At, DateTimeOffset Deadline) : SupervisorState
    {
        public override SupervisorPhase Phase => SupervisorPhase.Starting;
    }

    /// <summary>A restart is needed and waits for the coordinator's lease.</summary>
    public sealed record AwaitingLease(RestartCause Cause) : SupervisorState
    {
        public override SupervisorPhase Phase => SupervisorPhase.AwaitingLease;
    }

    /// <summary>Restarting is hopeless or unsafe (GaveUp, Refused, HostUnreachable): the node needs a failover. <paramref name="Guard"/>: what the persistence guard refused for.</summary>
    public sealed record Hopeless(SupervisorPhase Kind, string Reason, GuardKind Guard = GuardKind.None) : SupervisorState
    {
        public override SupervisorPhase Phase => Kind;

        public override string? NeedsFailover => Reason;
    }

    public sealed record Stopped : SupervisorState
    {
        public override SupervisorPhase Phase => SupervisorPhase.Stopped;
    }
}

/// <summary>What the supervisor's loop carries out, in order.</summary>
internal abstract record SupervisorEffect
{
    /// <summary>The phase shown in status, metrics and /readyz changed.</summary>
    public sealed record PhaseChanged(SupervisorPhase Phase, string? NeedsFailover) : SupervisorEffect;

    /// <summary>Restart the node now through the driver, then report <see cref="SupervisorMachine.Restarted"/> or <see cref="SupervisorMachine.RestartFailed"/>.</summary>
    public sealed record Restart(RestartCause Cause, RestartRecord Record) : SupervisorEffect;

    /// <summary>Refuse writes at once: the node came back from a restart fenced, or not the resource's primary.</summary>
    public sealed record Fence : SupervisorEffect;

    public sealed record Refused(string Cause, string Reason) : SupervisorEffect;

    public sealed record GuardNote(string Note) : SupervisorEffect;

    public sealed record ObserveOnly(string Cause) : SupervisorEffect;

    public sealed record GaveUp(string Reason, string Cause) : SupervisorEffect;

    public sealed record HostLost(string Evidence) : SupervisorEffect;

    public sealed record Scheduled(TimeSpan Delay, string Cause) : SupervisorEffect;

    public sealed record HeldForLease(string Why, string Cause) : SupervisorEffect;

    public sealed record LeaseGranted(string Cause) : SupervisorEffect;

    public sealed record BackUp(TimeSpan After, NodeVerdict Verdict) : SupervisorEffect;

    public sealed record Recovered(NodeVerdict Verdict) : SupervisorEffect;

    public sealed record Cancelled(NodeVerdict Verdict) : SupervisorEffect;

    public sealed record Restarted(RestartCause Cause, int Attempt) : SupervisorEffect;

    public sealed record RestartError(string Message) : SupervisorEffect;
}

/// <summary>
/// The supervisor's decisions, pure: each input (a probe, a host verdict, an exit, a lease change, a
/// restart's outcome, the clock) comes with its <see cref="SupervisorContext"/> and answers with the
/// effects to carry out. It restarts when only the process died or hung, within the restart policy;
/// never when the host is gone, the persistence guard refuses or the start limit is hit (those need a
/// failover); and only while the restart lease is held.
/// </summary>
internal sealed class SupervisorMachine
{
    private readonly RestartOptions _options;
    private readonly RestartPolicy _policy;
    private readonly bool _canRestart;
    private readonly Func<double> _jitter;
    private readonly List<SupervisorEffect> _effects = [];
    private DateTimeOffset _since;
    private PortProbeResult? _lastProbe;

    // A restart that did not bring the node back (it timed out, the driver failed, or it died while
    // starting): said as a need for a failover while the restarts go on, until the node is back. A
    // primary with a standby in sync is then failed over at once instead of after the start limit.
    private string? _failedStart;
    private string? _needsFailover;

    /// <param name="canRestart">False for the <c>none</c> driver: the machine judges and reports, and never asks for a restart.</param>
    /// <param name="jitter">Uniform in [0, 1), for the backoff.</param>
    public SupervisorMachine(RestartOptions options, bool canRestart, Func<double> jitter, DateTimeOffset now)
    {
        _options = options;
        _policy = new RestartPolicy(options);
        _canRestart = canRestart;
        _jitter = jitter;
        _since = now;
    }

    public SupervisorState State { get; private set; } = new SupervisorState.Watching();

    /// <summary>When <see cref="Tick"/> must next be called even if nothing else happens; null: only on an input.</summary>
    public DateTimeOffset? Deadline => State switch
    {
        SupervisorState.Pending pending => pending.Due,
        SupervisorState.Starting starting => starting.Deadline,
        _ => null,
    };

    public IReadOnlyList<SupervisorEffect> Probed(PortProbeResult result, NodeVerdict verdict, VerdictChange? change, SupervisorContext context)
    {
        _lastProbe = result;
        var now = context.Now;
        if (result.Outcome == PortProbeOutcome.Pong)
        {
            _policy.OnHealthy(now);
        }

        // The verdict lags: the exec driver reports an exit at once, while the probes still hold the
        // old "Healthy" for a few observations. So leaving a phase takes a probe that itself answered
        // and began after the phase did, on top of a verdict that says the node is alive.
        var back = verdict is NodeVerdict.Healthy or NodeVerdict.Busy or NodeVerdict.Misconfigured
                   && result.ProcessAnswered
                   && result.At >= _since;

        switch (State)
        {
            case SupervisorState.Starting starting when back:
                Emit(new SupervisorEffect.BackUp(now - starting.At, verdict));
                Enter(new SupervisorState.Watching(), now);
                if (context.Fenced || context.FenceOnStart)
                {
                    Emit(new SupervisorEffect.Fence());
                }

                break;
            case SupervisorState.Hopeless or SupervisorState.AwaitingLease when back:
                Emit(new SupervisorEffect.Recovered(verdict));
                Enter(new SupervisorState.Watching(), now);
                break;
            case SupervisorState.Pending pending when back && pending.Cause.Trigger != RestartTrigger.Exited:
                // Someone else brought it back while we waited out the backoff.
                Emit(new SupervisorEffect.Cancelled(verdict));
                Enter(new SupervisorState.Watching(), now);
                break;
            default:
                VerdictChanged(change, context);
                break;
        }

        return Take();
    }

    /// <summary>A host probe (SSH) changed, or confirmed, the node's verdict.</summary>
    public IReadOnlyList<SupervisorEffect> HostProbed(VerdictChange? change, SupervisorContext context)
    {
        VerdictChanged(change, context);
        return Take();
    }

    /// <summary>The exec driver's child ended.</summary>
    public IReadOnlyList<SupervisorEffect> Exited(int processId, ExitStatus status, SupervisorContext context)
    {
        if (State is SupervisorState.Watching or SupervisorState.Starting)
        {
            Fail(new RestartCause(RestartTrigger.Exited, $"pid {processId} {status}"), context);
        }

        return Take();
    }

    /// <summary>The restart lease was granted, renewed, ended or voided.</summary>
    public IReadOnlyList<SupervisorEffect> LeaseChanged(SupervisorContext context)
    {
        if (State is SupervisorState.AwaitingLease awaiting && context.LeaseHeld)
        {
            Emit(new SupervisorEffect.LeaseGranted(awaiting.Cause.ToString()));
            Schedule(awaiting.Cause, context.Now);
        }
        else if (State is SupervisorState.Hopeless { Kind: SupervisorPhase.GaveUp or SupervisorPhase.Refused } hopeless
                 && _canRestart && context.LeaseHeld && context.Lifts(hopeless.Guard) is { } why)
        {
            // The coordinator will not (or need not) fail over for this node: restarting is its way back.
            var cause = new RestartCause(RestartTrigger.Rebuild, $"{hopeless.Reason}; but {why}");
            Emit(new SupervisorEffect.GuardNote(cause.Detail));
            Schedule(cause, context.Now);
        }

        return Take();
    }

    /// <summary>The clock: a start that timed out fails, a backoff that ended restarts (or waits for the lease).</summary>
    public IReadOnlyList<SupervisorEffect> Tick(SupervisorContext context)
    {
        var now = context.Now;
        switch (State)
        {
            case SupervisorState.Starting starting when now >= starting.Deadline:
                var last = _lastProbe is { } p ? $"{p.Outcome}{(p.Detail is null ? "" : " (" + p.Detail + ")")}" : "no probe yet";
                Fail(new RestartCause(
                    RestartTrigger.StartTimeout,
                    $"not answering {_options.StartTimeout.TotalSeconds:0.#} s after the restart; last probe: {last}"), context);
                break;
            case SupervisorState.Pending pending when now >= pending.Due:
                if (!context.LeaseHeld)
                {
                    // The lease ended or ran out during the backoff.
                    Hold(pending.Cause, context);
                    break;
                }

                _policy.RecordRestart(now);
                var record = new RestartRecord(now, pending.Cause, _policy.Consecutive, pending.Delay);
                Enter(new SupervisorState.Restarting(pending.Cause, now), now);
                Emit(new SupervisorEffect.Restart(pending.Cause, record));
                break;
        }

        return Take();
    }

    /// <summary>The driver carried out the restart: the node must answer within Restart:StartTimeout.</summary>
    public IReadOnlyList<SupervisorEffect> Restarted(int attempt, DateTimeOffset now)
    {
        if (State is SupervisorState.Restarting restarting)
        {
            Emit(new SupervisorEffect.Restarted(restarting.Cause, attempt));
            Enter(new SupervisorState.Starting(restarting.At, restarting.At + _options.StartTimeout), now);
        }

        return Take();
    }

    /// <summary>
    /// The driver could not restart. Whatever went wrong, it is a failed restart: counted, backed off,
    /// limited. Leaving the phase as it was would strand the node with no restart pending and none coming.
    /// </summary>
    public IReadOnlyList<SupervisorEffect> RestartFailed(string message, SupervisorContext context)
    {
        if (State is SupervisorState.Restarting)
        {
            Emit(new SupervisorEffect.RestartError(message));
            Enter(new SupervisorState.Watching(), context.Now);
            var cause = new RestartCause(RestartTrigger.RestartFailed, message);
            _failedStart = $"a restart failed ({cause})";
            Fail(cause, context);
        }

        return Take();
    }

    public IReadOnlyList<SupervisorEffect> Stop(DateTimeOffset now)
    {
        Enter(new SupervisorState.Stopped(), now);
        return Take();
    }

    /// <summary>Acts on a verdict change, whichever probe (port or host) brought it.</summary>
    private void VerdictChanged(VerdictChange? change, SupervisorContext context)
    {
        switch (State, change?.To)
        {
            case (SupervisorState.Watching or SupervisorState.Starting or SupervisorState.Pending or SupervisorState.AwaitingLease, NodeVerdict.HostUnreachable):
                // A lost host is a failover's business: restarting would only burn the start limit.
                Enter(new SupervisorState.Hopeless(SupervisorPhase.HostUnreachable, "host unreachable: neither the Redis port nor the host answers over SSH"), context.Now);
                Emit(new SupervisorEffect.HostLost(Describe(change!)));
                break;
            case (SupervisorState.Hopeless { Kind: SupervisorPhase.HostUnreachable }, NodeVerdict.ProcessDown):
                // The host answers again but Redis does not: now it is a restart's business.
                Enter(new SupervisorState.Watching(), context.Now);
                Fail(new RestartCause(RestartTrigger.ProbeFailures, "host answers again, Redis does not: " + Describe(change!)), context);
                break;
            case (SupervisorState.Watching, NodeVerdict.ProcessDown):
                Fail(new RestartCause(RestartTrigger.ProbeFailures, Describe(change!)), context);
                break;
            case (SupervisorState.Watching, NodeVerdict.Hung):
                Fail(new RestartCause(RestartTrigger.Hang, Describe(change!)), context);
                break;
        }
    }

    private void Fail(RestartCause cause, SupervisorContext context)
    {
        var now = context.Now;
        _policy.OnFailure(now);
        if (State is SupervisorState.Starting or SupervisorState.Restarting)
        {
            _failedStart = $"a restart failed ({cause})";
        }

        var guard = PersistenceGuard.Check(context.Facts);
        if (!guard.IsAllowed && context.Lifts(guard.Kind) is { } lifted)
        {
            Emit(new SupervisorEffect.GuardNote($"{guard.Reason}; but {lifted}"));
        }
        else if (!guard.IsAllowed)
        {
            Enter(new SupervisorState.Hopeless(SupervisorPhase.Refused, "restart refused: " + guard.Reason, guard.Kind), now);
            Emit(new SupervisorEffect.Refused(cause.ToString(), guard.Reason!));
            return;
        }
        else if (guard.Reason is { } note)
        {
            Emit(new SupervisorEffect.GuardNote(note));
        }

        if (!_canRestart)
        {
            Emit(new SupervisorEffect.ObserveOnly(cause.ToString()));
            return;
        }

        if (_policy.IsLimitReached(now))
        {
            var reason = $"start limit reached: {_options.StartLimitBurst} restarts within {_options.StartLimitInterval.TotalSeconds:0.#} s";
            if (context.LeaseHeld && context.Lifts(GuardKind.None) is { } why)
            {
                // Past the limit, the backoff keeps growing to Restart:MaxBackoff: retried, never hammered.
                Emit(new SupervisorEffect.GuardNote($"{reason}; but {why}"));
                Schedule(cause, now);
                return;
            }

            Enter(new SupervisorState.Hopeless(SupervisorPhase.GaveUp, reason), now);
            Emit(new SupervisorEffect.GaveUp(reason, cause.ToString()));
            return;
        }

        if (!context.LeaseHeld)
        {
            Hold(cause, context);
            return;
        }

        Schedule(cause, now);
    }

    /// <summary>No restart lease: the restart waits for the coordinator's grant (and is not a failover's business either).</summary>
    private void Hold(RestartCause cause, SupervisorContext context)
    {
        if (State is not SupervisorState.AwaitingLease)
        {
            Emit(new SupervisorEffect.HeldForLease(context.LeaseWhyNotHeld, cause.ToString()));
        }

        Enter(new SupervisorState.AwaitingLease(cause), context.Now);
    }

    private void Schedule(RestartCause cause, DateTimeOffset now)
    {
        var delay = _policy.NextDelay(_jitter());
        Enter(new SupervisorState.Pending(cause, now + delay, delay), now);
        if (delay > TimeSpan.Zero)
        {
            Emit(new SupervisorEffect.Scheduled(delay, cause.ToString()));
        }
    }

    /// <summary>Takes the new state; the phase's start moves only when the phase itself changes.</summary>
    private void Enter(SupervisorState next, DateTimeOffset now)
    {
        var previous = State;
        State = next;
        if (next is SupervisorState.Watching)
        {
            _failedStart = null;
        }

        if (next.Phase != previous.Phase)
        {
            _since = now;
        }

        var needs = next.NeedsFailover ?? (next is SupervisorState.Pending or SupervisorState.Restarting or SupervisorState.Starting or SupervisorState.AwaitingLease ? _failedStart : null);
        if (next.Phase != previous.Phase || needs != _needsFailover)
        {
            _needsFailover = needs;
            Emit(new SupervisorEffect.PhaseChanged(next.Phase, needs));
        }
    }

    private static string Describe(VerdictChange change)
    {
        var evidence = change.Evidence;
        return $"{change.Observations} consecutive failed probes, last: {evidence.Outcome}" +
               (evidence.Detail is null ? "" : $" ({evidence.Detail})") +
               (change.HostEvidence is { } host ? $"; host over SSH: {host.Outcome}" + (host.Detail is null ? "" : $" ({host.Detail})") : "");
    }

    private void Emit(SupervisorEffect effect) => _effects.Add(effect);

    private IReadOnlyList<SupervisorEffect> Take()
    {
        var taken = _effects.ToArray();
        _effects.Clear();
        return taken;
    }
}
