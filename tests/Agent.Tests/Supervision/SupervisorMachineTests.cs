using RedisAgent.Probing;
using RedisAgent.Sampling;
using RedisAgent.Supervision;
using RedisFailover.Protos;
using Effect = RedisAgent.Supervision.SupervisorEffect;
using RedisAgent.Node;

namespace RedisAgent.Tests.Supervision;

/// <summary>The supervisor's decisions as a pure machine: inputs at explicit instants, effects out; no loop, no clock, no delay.</summary>
public sealed class SupervisorMachineTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 8, 0, 0, TimeSpan.Zero);

    private static readonly RestartOptions Options = new()
    {
        StartTimeout = TimeSpan.FromSeconds(10),
        InitialBackoff = TimeSpan.FromSeconds(2),
        MaxBackoff = TimeSpan.FromSeconds(8),
        StartLimitBurst = 3,
        StartLimitInterval = TimeSpan.FromMinutes(1),
    };

    private static readonly NodeFacts Persisted = new(NodeRole.Primary, 1, AofEnabled: true, SaveConfig: "", 1, T0, AppendFsync: "everysec");

    private readonly SupervisorMachine _machine = new(Options, canRestart: true, jitter: () => 0, T0);

    [Fact]
    public void Process_down_restarts_at_once_and_back_up_returns_to_watching()
    {
        Healthy(T0);

        var down = Down(T0.AddSeconds(1));
        Assert.Equal(SupervisorPhase.RestartPending, _machine.State.Phase);
        Assert.Contains(new Effect.PhaseChanged(SupervisorPhase.RestartPending, null), down);
        Assert.Equal(T0.AddSeconds(1), _machine.Deadline);

        var restart = Assert.Single(_machine.Tick(At(T0.AddSeconds(1))).OfType<Effect.Restart>());
        Assert.Equal((RestartTrigger.ProbeFailures, 1, TimeSpan.Zero), (restart.Cause.Trigger, restart.Record.Attempt, restart.Record.Delay));
        Assert.Null(_machine.Deadline);

        var restarted = _machine.Restarted(1, T0.AddMilliseconds(1100));
        Assert.IsType<Effect.Restarted>(restarted[0]);
        var starting = Assert.IsType<SupervisorState.Starting>(_machine.State);
        Assert.Equal(T0.AddSeconds(11), starting.Deadline);

        var back = Probe(PortProbeOutcome.Pong, NodeVerdict.Healthy, T0.AddMilliseconds(1200), from: NodeVerdict.ProcessDown);
        Assert.Equal(TimeSpan.FromMilliseconds(200), Assert.Single(back.OfType<Effect.BackUp>()).After);
        Assert.IsType<SupervisorState.Watching>(_machine.State);
        Assert.Empty(back.OfType<Effect.Fence>());
    }

    [Fact]
    public void A_probe_that_began_before_the_restart_does_not_count_as_back()
    {
        Healthy(T0);
        Down(T0.AddSeconds(1));
        _machine.Tick(At(T0.AddSeconds(1)));
        _machine.Restarted(1, T0.AddSeconds(2));

        Probe(PortProbeOutcome.Pong, NodeVerdict.Healthy, T0.AddSeconds(1.5));

        Assert.IsType<SupervisorState.Starting>(_machine.State);
    }

    [Fact]
    public void A_start_that_times_out_fails_with_backoff_and_the_start_limit_gives_up()
    {
        Healthy(T0);
        Down(T0.AddSeconds(1));
        var now = T0.AddSeconds(1);
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            Assert.Single(_machine.Tick(At(_machine.Deadline!.Value)).OfType<Effect.Restart>());
            now = _machine.Deadline ?? now;
            _machine.Restarted(attempt, now);
            now = ((SupervisorState.Starting)_machine.State).Deadline;
            var timedOut = _machine.Tick(At(now));
            if (attempt < 3)
            {
                var pending = Assert.IsType<SupervisorState.Pending>(_machine.State);
                Assert.Equal(RestartTrigger.StartTimeout, pending.Cause.Trigger);
                // From the first failed restart on, the node says it needs a failover (its agent asks
                // the coordinator), while the restarts go on.
                Assert.Contains(timedOut, e => e is Effect.PhaseChanged { NeedsFailover: { } why } && why.StartsWith("a restart failed", StringComparison.Ordinal));
                // Equal jitter at 0: half of 2 s, then of 4 s.
                Assert.Equal(TimeSpan.FromSeconds(attempt), pending.Delay);
                Assert.Contains(timedOut, e => e is Effect.Scheduled);
            }
            else
            {
                Assert.Equal(SupervisorPhase.GaveUp, _machine.State.Phase);
                Assert.StartsWith("start limit reached: 3 restarts", _machine.State.NeedsFailover, StringComparison.Ordinal);
                Assert.Single(timedOut.OfType<Effect.GaveUp>());
            }
        }
    }

    [Fact]
    public void A_lost_host_is_never_restarted_until_the_host_answers_again()
    {
        Healthy(T0);

        var lost = Probe(PortProbeOutcome.ConnectTimeout, NodeVerdict.HostUnreachable, T0.AddSeconds(1), from: NodeVerdict.Healthy);

        Assert.Equal(SupervisorPhase.HostUnreachable, _machine.State.Phase);
        Assert.NotNull(_machine.State.NeedsFailover);
        Assert.Single(lost.OfType<Effect.HostLost>());
        Assert.Empty(_machine.Tick(At(T0.AddMinutes(5))).OfType<Effect.Restart>());

        _machine.HostProbed(Change(NodeVerdict.HostUnreachable, NodeVerdict.ProcessDown, PortProbeOutcome.Refused, T0.AddMinutes(5)), At(T0.AddMinutes(5)));
        Assert.IsType<SupervisorState.Pending>(_machine.State);
        Assert.Contains("host answers again", ((SupervisorState.Pending)_machine.State).Cause.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_primary_with_replicas_and_no_persistence_is_refused()
    {
        Healthy(T0);
        var bare = new NodeFacts(NodeRole.Primary, 2, AofEnabled: false, SaveConfig: "", 1, T0);

        var refused = _machine.Probed(Result(PortProbeOutcome.Refused, T0.AddSeconds(1)), NodeVerdict.ProcessDown,
            Change(NodeVerdict.Healthy, NodeVerdict.ProcessDown, PortProbeOutcome.Refused, T0.AddSeconds(1)), At(T0.AddSeconds(1)) with { Facts = bare });

        Assert.Equal(SupervisorPhase.Refused, _machine.State.Phase);
        Assert.Contains("come back empty", Assert.Single(refused.OfType<Effect.Refused>()).Reason, StringComparison.Ordinal);
        Assert.Empty(refused.OfType<Effect.Restart>());
    }

    [Fact]
    public void The_none_driver_judges_and_reports_but_never_restarts()
    {
        var machine = new SupervisorMachine(Options, canRestart: false, () => 0, T0);

        var effects = machine.Exited(42, new ExitStatus(null, 9), At(T0.AddSeconds(1)));

        Assert.Single(effects.OfType<Effect.ObserveOnly>());
        Assert.IsType<SupervisorState.Watching>(machine.State);
        Assert.Empty(machine.Tick(At(T0.AddMinutes(1))));
    }

    [Fact]
    public void Without_a_lease_the_restart_waits_for_the_grant_and_a_lease_lost_in_the_backoff_holds_it()
    {
        Healthy(T0);
        var noLease = At(T0.AddSeconds(1)) with { LeaseHeld = false, LeaseWhyNotHeld = "no coordinator" };

        var held = _machine.Exited(42, new ExitStatus(null, 9), noLease);
        Assert.Equal("no coordinator", Assert.Single(held.OfType<Effect.HeldForLease>()).Why);
        Assert.IsType<SupervisorState.AwaitingLease>(_machine.State);
        Assert.Empty(_machine.Tick(noLease with { Now = T0.AddMinutes(1) }));

        var granted = _machine.LeaseChanged(At(T0.AddMinutes(1)));
        Assert.Single(granted.OfType<Effect.LeaseGranted>());
        Assert.IsType<SupervisorState.Pending>(_machine.State);

        // Due at once, but the lease ended before the loop got to it.
        _machine.Tick(At(T0.AddMinutes(1)) with { LeaseHeld = false });
        Assert.IsType<SupervisorState.AwaitingLease>(_machine.State);
    }

    [Fact]
    public void A_node_that_comes_back_fenced_or_deposed_is_fenced_again_at_once()
    {
        Healthy(T0);
        Down(T0.AddSeconds(1));
        _machine.Tick(At(T0.AddSeconds(1)));
        _machine.Restarted(1, T0.AddSeconds(1));

        var back = _machine.Probed(Result(PortProbeOutcome.Pong, T0.AddSeconds(2)), NodeVerdict.Healthy, null, At(T0.AddSeconds(2)) with { FenceOnStart = true });

        Assert.Single(back.OfType<Effect.Fence>());
    }

    [Fact]
    public void A_failed_restart_counts_as_a_failure_and_is_retried_after_its_backoff()
    {
        Healthy(T0);
        Down(T0.AddSeconds(1));
        _machine.Tick(At(T0.AddSeconds(1)));

        var failed = _machine.RestartFailed("binary missing", At(T0.AddSeconds(1)));

        Assert.Equal("binary missing", Assert.Single(failed.OfType<Effect.RestartError>()).Message);
        var pending = Assert.IsType<SupervisorState.Pending>(_machine.State);
        Assert.Equal((RestartTrigger.RestartFailed, TimeSpan.FromSeconds(1)), (pending.Cause.Trigger, pending.Delay));
        Assert.Contains(failed, e => e is Effect.PhaseChanged { NeedsFailover: { } why } && why.Contains("binary missing", StringComparison.Ordinal));

        // Back up at the next attempt: the need is gone.
        _machine.Tick(At(T0.AddSeconds(2)));
        _machine.Restarted(2, T0.AddSeconds(2));
        var back = Probe(PortProbeOutcome.Pong, NodeVerdict.Healthy, T0.AddSeconds(2.5), from: NodeVerdict.ProcessDown);
        Assert.Contains(new Effect.PhaseChanged(SupervisorPhase.Watching, null), back);
    }

    /// <summary>A death the first restart cures is no reason for a failover: nothing failed to start.</summary>
    [Fact]
    public void A_process_death_cured_by_its_restart_never_says_it_needs_a_failover()
    {
        Healthy(T0);
        var effects = new List<Effect>(Down(T0.AddSeconds(1)));
        effects.AddRange(_machine.Tick(At(T0.AddSeconds(1))));
        effects.AddRange(_machine.Restarted(1, T0.AddMilliseconds(1100)));
        effects.AddRange(Probe(PortProbeOutcome.Pong, NodeVerdict.Healthy, T0.AddMilliseconds(1200), from: NodeVerdict.ProcessDown));

        Assert.All(effects.OfType<Effect.PhaseChanged>(), e => Assert.Null(e.NeedsFailover));
    }

    [Fact]
    public void An_exit_is_not_cancelled_by_a_healthy_verdict_the_probes_still_hold()
    {
        Healthy(T0);
        var now = T0.AddSeconds(100);
        _machine.Exited(42, new ExitStatus(null, 9), At(now));
        _machine.Tick(At(now));
        _machine.Restarted(1, now);
        Probe(PortProbeOutcome.Pong, NodeVerdict.Healthy, now.AddSeconds(1));

        // It dies again soon after: the second restart backs off.
        _machine.Exited(43, new ExitStatus(null, 9), At(now.AddSeconds(2)));
        var pending = Assert.IsType<SupervisorState.Pending>(_machine.State);
        Assert.Equal(RestartTrigger.Exited, pending.Cause.Trigger);

        // A probe in the backoff answered (the verdict lags the exit the driver saw): the restart stays.
        Probe(PortProbeOutcome.Pong, NodeVerdict.Healthy, now.AddSeconds(2.5));

        Assert.IsType<SupervisorState.Pending>(_machine.State);
    }

    [Fact]
    public void A_primary_with_replicas_and_rdb_only_is_refused_as_older_data_and_restarted_once_the_coordinator_has_no_standby()
    {
        Healthy(T0);
        var rdbOnly = new NodeFacts(NodeRole.Primary, 1, AofEnabled: false, SaveConfig: "900 1", 1, T0);
        var at = At(T0.AddSeconds(1)) with { Facts = rdbOnly };

        var refused = _machine.Probed(Result(PortProbeOutcome.Refused, T0.AddSeconds(1)), NodeVerdict.ProcessDown,
            Change(NodeVerdict.Healthy, NodeVerdict.ProcessDown, PortProbeOutcome.Refused, T0.AddSeconds(1)), at);
        var hopeless = Assert.IsType<SupervisorState.Hopeless>(_machine.State);
        Assert.Equal((SupervisorPhase.Refused, GuardKind.OlderData), (hopeless.Kind, hopeless.Guard));
        Assert.Contains("RDB snapshots only", Assert.Single(refused.OfType<Effect.Refused>()).Reason, StringComparison.Ordinal);

        // A lease that says nothing new lifts nothing.
        Assert.Empty(_machine.LeaseChanged(at).OfType<Effect.Scheduled>());
        Assert.IsType<SupervisorState.Hopeless>(_machine.State);

        _machine.LeaseChanged(at with { NoStandby = true });
        var pending = Assert.IsType<SupervisorState.Pending>(_machine.State);
        Assert.Equal(RestartTrigger.Rebuild, pending.Cause.Trigger);
        Assert.Contains("no standby in sync", pending.Cause.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void No_standby_never_lifts_the_no_persistence_refusal_but_not_being_the_primary_does()
    {
        Healthy(T0);
        var bare = new NodeFacts(NodeRole.Primary, 2, AofEnabled: false, SaveConfig: "", 1, T0);
        var at = At(T0.AddSeconds(1)) with { Facts = bare, NoStandby = true };
        _machine.Probed(Result(PortProbeOutcome.Refused, T0.AddSeconds(1)), NodeVerdict.ProcessDown,
            Change(NodeVerdict.Healthy, NodeVerdict.ProcessDown, PortProbeOutcome.Refused, T0.AddSeconds(1)), at);
        Assert.Equal(SupervisorPhase.Refused, _machine.State.Phase);

        _machine.LeaseChanged(at);
        Assert.Equal(SupervisorPhase.Refused, _machine.State.Phase);

        _machine.LeaseChanged(at with { NoStandby = false, NotPrimary = true, FenceOnStart = true });
        Assert.IsType<SupervisorState.Pending>(_machine.State);
    }

    [Fact]
    public void Past_the_start_limit_a_primary_without_a_standby_keeps_restarting_with_the_longest_backoff()
    {
        Healthy(T0);
        var now = T0.AddSeconds(1);
        var noStandby = (DateTimeOffset t) => At(t) with { NoStandby = true };
        _machine.Exited(42, new ExitStatus(null, 9), noStandby(now));
        for (var attempt = 1; attempt <= 6; attempt++)
        {
            now = _machine.Deadline!.Value;
            Assert.Single(_machine.Tick(noStandby(now)).OfType<Effect.Restart>());
            _machine.Restarted(attempt, now);
            var effects = _machine.Exited(42 + attempt, new ExitStatus(null, 1), noStandby(now.AddMilliseconds(10)));
            Assert.IsType<SupervisorState.Pending>(_machine.State);
            if (attempt >= 3)
            {
                Assert.Contains(effects.OfType<Effect.GuardNote>(), n => n.Note.Contains("start limit reached", StringComparison.Ordinal));
            }
        }

        // The longest backoff, at jitter 0 (equal jitter: half of Restart:MaxBackoff).
        Assert.Equal(Options.MaxBackoff / 2, ((SupervisorState.Pending)_machine.State).Delay);
        Assert.Null(_machine.State.NeedsFailover);
    }

    [Fact]
    public void Without_a_coordinator_the_start_limit_spaces_restarts_out_but_a_refusal_of_the_persistence_guard_stands()
    {
        Healthy(T0);
        var now = T0.AddSeconds(1);
        var alone = (DateTimeOffset t) => At(t) with { Alone = true, FenceOnStart = true };
        _machine.Exited(42, new ExitStatus(null, 9), alone(now));
        for (var attempt = 1; attempt <= 5; attempt++)
        {
            now = _machine.Deadline!.Value;
            Assert.Single(_machine.Tick(alone(now)).OfType<Effect.Restart>());
            _machine.Restarted(attempt, now);
            _machine.Exited(42 + attempt, new ExitStatus(null, 1), alone(now.AddMilliseconds(10)));
            Assert.IsType<SupervisorState.Pending>(_machine.State);
        }

        Assert.Null(_machine.State.NeedsFailover);
        Assert.True(alone(now).Lifts(GuardKind.None) is not null);
        Assert.Null(alone(now).Lifts(GuardKind.NoPersistence));
        Assert.Null(alone(now).Lifts(GuardKind.OlderData));
    }

    private void Healthy(DateTimeOffset at) => Probe(PortProbeOutcome.Pong, NodeVerdict.Healthy, at);

    private IReadOnlyList<Effect> Down(DateTimeOffset at) => Probe(PortProbeOutcome.Refused, NodeVerdict.ProcessDown, at, from: NodeVerdict.Healthy);

    private IReadOnlyList<Effect> Probe(PortProbeOutcome outcome, NodeVerdict verdict, DateTimeOffset at, NodeVerdict? from = null) =>
        _machine.Probed(Result(outcome, at), verdict, from is { } f ? Change(f, verdict, outcome, at) : null, At(at));

    private static SupervisorContext At(DateTimeOffset now) => new(now, Persisted);

    private static PortProbeResult Result(PortProbeOutcome outcome, DateTimeOffset at) => new(outcome, at, TimeSpan.FromMilliseconds(1));

    private static VerdictChange Change(NodeVerdict from, NodeVerdict to, PortProbeOutcome outcome, DateTimeOffset at) =>
        new(from, to, at, Result(outcome, at), 3);
}
