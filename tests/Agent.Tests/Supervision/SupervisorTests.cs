using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using RedisAgent.Connection;
using RedisAgent.Node;
using RedisAgent.Probing;
using RedisAgent.Supervision;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Supervision;

/// <summary>The supervisor's decisions on a fake clock, with a driver that only records.</summary>
public sealed class SupervisorTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 26, 8, 0, 0, TimeSpan.Zero));
    private readonly RecordingDriver _driver = new();
    private readonly SupervisorInbox _inbox = new();
    private readonly NodeStatus _status = new();
    private readonly RestartLease _lease;
    private readonly Supervisor _supervisor;

    public SupervisorTests()
    {
        var options = new RestartOptions
        {
            StartTimeout = TimeSpan.FromSeconds(10),
            InitialBackoff = TimeSpan.FromSeconds(1),
            MaxBackoff = TimeSpan.FromSeconds(8),
            StartLimitBurst = 3,
        };
        // As under a coordinator, with a lease that outlasts every test unless one ends it.
        _lease = new RestartLease(_time, required: true);
        _lease.Link(up: true);
        _lease.Grant(TimeSpan.FromHours(1), fenceOnStart: false);
        _supervisor = new Supervisor(
            _driver, _inbox, _status, Options.Create(options),
            new SecretRedactor(RedisEndpoint.Parse("redis://127.0.0.1:6379")), _time, NullLogger<Supervisor>.Instance, _lease);
    }

    public Task InitializeAsync() => _supervisor.StartAsync(CancellationToken.None);

    public async Task DisposeAsync()
    {
        await _supervisor.StopAsync(CancellationToken.None);
        _supervisor.Dispose();
    }

    [Fact]
    public async Task Node_that_never_answers_after_a_restart_is_restarted_again_after_the_start_timeout_with_backoff()
    {
        Probe(PortProbeOutcome.Pong, NodeVerdict.Healthy);
        Probe(PortProbeOutcome.Refused, NodeVerdict.ProcessDown, changedFrom: NodeVerdict.Healthy);
        // The driver counts the restart before the loop records the phase it leads to: wait for both.
        await Until(() => _driver.Restarts == 1 && _status.Snapshot.Phase == SupervisorPhase.Starting, "the first restart is immediate, then Starting");

        // Still refused, and the verdict does not change any more: only the start timeout can act.
        Probe(PortProbeOutcome.Refused, NodeVerdict.ProcessDown);
        _time.Advance(TimeSpan.FromSeconds(10));
        await Until(() => _status.Snapshot.Phase == SupervisorPhase.RestartPending, "start timeout noticed, next restart backed off");
        Assert.Equal(1, _driver.Restarts);
        _time.Advance(TimeSpan.FromSeconds(1));
        await Until(() => _driver.Restarts == 2, "second restart after its backoff");
        Assert.Equal(RestartTrigger.StartTimeout, _driver.Causes[^1].Trigger);
        Assert.Contains("Refused", _driver.Causes[^1].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Node_back_before_the_backoff_ends_cancels_the_pending_restart()
    {
        Probe(PortProbeOutcome.Pong, NodeVerdict.Healthy);
        Probe(PortProbeOutcome.Refused, NodeVerdict.ProcessDown, changedFrom: NodeVerdict.Healthy);
        await Until(() => _driver.Restarts == 1, "first restart");
        _time.Advance(TimeSpan.FromSeconds(10));
        await Until(() => _status.Snapshot.Phase == SupervisorPhase.RestartPending, "second restart pending");

        Probe(PortProbeOutcome.Pong, NodeVerdict.Healthy, changedFrom: NodeVerdict.ProcessDown);

        await Until(() => _status.Snapshot.Phase == SupervisorPhase.Watching, "pending restart cancelled");
        _time.Advance(TimeSpan.FromSeconds(30));
        Probe(PortProbeOutcome.Pong, NodeVerdict.Healthy);
        await Until(() => _status.Snapshot.Phase == SupervisorPhase.Watching, "still watching");
        Assert.Equal(1, _driver.Restarts);
    }

    [Fact]
    public async Task Driver_that_throws_counts_as_a_failed_restart_and_the_limit_still_holds()
    {
        _driver.Failure = new IOException("disk full");
        Probe(PortProbeOutcome.Pong, NodeVerdict.Healthy);
        Probe(PortProbeOutcome.Refused, NodeVerdict.ProcessDown, changedFrom: NodeVerdict.Healthy);

        // Let the backoffs elapse a second at a time; 20 s in all stays inside the 60 s start-limit window.
        for (var second = 0; second < 20 && _status.Snapshot.Phase != SupervisorPhase.GaveUp; second++)
        {
            await Task.Delay(20);
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        await Until(() => _status.Snapshot.Phase == SupervisorPhase.GaveUp, "gave up at the start limit");
        Assert.Equal(3, _driver.Attempts);
        Assert.Equal(3, _status.Snapshot.Restarts);
        Assert.Contains("start limit", _status.Snapshot.NeedsFailover, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_restart_lease_a_restart_waits_for_the_grant()
    {
        _lease.End("term 2: n1's host is under confirmation");
        Probe(PortProbeOutcome.Pong, NodeVerdict.Healthy);
        Probe(PortProbeOutcome.Refused, NodeVerdict.ProcessDown, changedFrom: NodeVerdict.Healthy);

        await Until(() => _status.Snapshot.Phase == SupervisorPhase.AwaitingLease, "restart held for the lease");
        _time.Advance(TimeSpan.FromSeconds(30));
        Probe(PortProbeOutcome.Refused, NodeVerdict.ProcessDown);
        await Until(() => _status.Snapshot.Probes == 3, "third probe handled");
        Assert.Equal(0, _driver.Restarts);
        Assert.Null(_status.Snapshot.NeedsFailover);

        _lease.Grant(TimeSpan.FromSeconds(60), fenceOnStart: false);
        await Until(() => _driver.Restarts == 1, "restarted once the lease is granted");
        Assert.Equal(SupervisorPhase.Starting, _status.Snapshot.Phase);
    }

    [Fact]
    public async Task A_restart_held_by_the_coordinator_goes_ahead_fenced_the_moment_the_coordinator_is_lost()
    {
        _lease.End("term 2: n1's host is under confirmation");
        Probe(PortProbeOutcome.Pong, NodeVerdict.Healthy);
        Probe(PortProbeOutcome.Refused, NodeVerdict.ProcessDown, changedFrom: NodeVerdict.Healthy);
        await Until(() => _status.Snapshot.Phase == SupervisorPhase.AwaitingLease, "restart held for the lease");
        Assert.Equal(0, _driver.Restarts);

        // No clock advance: the loss of the link alone releases it.
        _lease.Link(up: false);
        await Until(() => _driver.Restarts == 1, "restarted without the coordinator");
        Assert.True(_lease.Alone);
        Assert.True(_lease.FenceOnStart);
    }

    [Fact]
    public async Task A_lease_that_runs_out_during_the_backoff_restarts_alone_at_the_backoffs_end()
    {
        Probe(PortProbeOutcome.Pong, NodeVerdict.Healthy);
        Probe(PortProbeOutcome.Refused, NodeVerdict.ProcessDown, changedFrom: NodeVerdict.Healthy);
        await Until(() => _driver.Restarts == 1, "first restart");
        _lease.Grant(TimeSpan.FromSeconds(10.5), fenceOnStart: false);
        _time.Advance(TimeSpan.FromSeconds(10));
        await Until(() => _status.Snapshot.Phase == SupervisorPhase.RestartPending, "second restart pending");

        // Nobody renewed it: the coordinator is not there, whatever the stream says. The restart goes
        // ahead without it, to come back fenced.
        _time.Advance(TimeSpan.FromSeconds(2));
        await Until(() => _driver.Restarts == 2, "second restart, alone");
        Assert.True(_lease.Alone);
        Assert.True(_lease.FenceOnStart);
        Assert.Contains("ran out", _lease.WhyNotHeld, StringComparison.Ordinal);
    }

    private void Probe(PortProbeOutcome outcome, NodeVerdict verdict, NodeVerdict? changedFrom = null)
    {
        var result = new PortProbeResult(outcome, _time.GetUtcNow(), TimeSpan.FromMilliseconds(1));
        var change = changedFrom is { } from ? new VerdictChange(from, verdict, result.At, result, 3) : null;
        _status.RecordProbe(result, verdict, change);
        _inbox.Post(new SupervisorSignal.Probed(result, verdict, change));
    }

    private static Task Until(Func<bool> condition, string what) => Poll.UntilAsync(condition, Deadline, () => what);

    private sealed class RecordingDriver : IRestartDriver
    {
        private readonly List<RestartCause> _causes = [];

        public Exception? Failure { get; set; }

        public int Attempts { get; private set; }

        public int Restarts { get; private set; }

        public IReadOnlyList<RestartCause> Causes
        {
            get
            {
                lock (_causes)
                {
                    return [.. _causes];
                }
            }
        }

        public string Name => "recording";

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task RestartAsync(RestartCause cause, CancellationToken cancellationToken)
        {
            Attempts++;
            if (Failure is not null)
            {
                throw Failure;
            }

            lock (_causes)
            {
                _causes.Add(cause);
            }

            Restarts++;
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
