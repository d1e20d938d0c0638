using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using RedisAgent.Connection;
using RedisAgent.Coordination;
using RedisAgent.Node;
using RedisAgent.Probing;
using RedisAgent.Sampling;
using RedisAgent.Testing;
using RedisFailover.Protos;

namespace RedisAgent.Tests.Coordination;

/// <summary>
/// The agent's handling of the coordinator's commands, without a stream: term checks, the restart
/// lease, probes answered from what the agent sees. Nothing here reaches Redis (a command that would
/// is refused by its term, or needs none), so the node's address is one nothing serves.
/// </summary>
public sealed class CommandHandlerTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 8, 0, 0, TimeSpan.Zero);
    private readonly UnservedNode _node = new("commands");
    private readonly FakeTimeProvider _time = new(T0);
    private readonly ObservationBook _observations = new();
    private readonly RedisAgent.Supervision.RestartLease _lease;
    private readonly CommandHandler _handler;

    public CommandHandlerTests()
    {
        _lease = new RedisAgent.Supervision.RestartLease(_time, required: true);
        // Commands arrive over an open stream: the link is up.
        _lease.Link(up: true);
        _handler = new CommandHandler(_node.Terms, _node.Control, _lease, _node.Reports(new SampleBook(), _observations, _time), NullLogger<CommandHandler>.Instance);
        _observations.Register("db-2", isLocal: false, "127.0.0.12:6379", "127.0.0.12:22");
    }

    public void Dispose() => _node.Dispose();

    [Fact]
    public async Task A_command_of_an_older_term_is_refused_and_the_newer_term_is_kept_on_disk()
    {
        Assert.True((await _handler.CarryOutAsync(Lease(term: 5, ttlMs: 1000))).Ok);

        var stale = await _handler.CarryOutAsync(new Command { CommandId = "c2", Term = 4, Promote = new Promote() });

        Assert.False(stale.Ok);
        Assert.Equal("c2", stale.CommandId);
        Assert.Equal("stale term 4: this agent has seen term 5", stale.Error);
        Assert.Equal(5, new TermStore(_node.StateDirectory).Highest);
    }

    [Fact]
    public async Task A_restart_lease_is_granted_with_its_fence_and_ended_with_its_reason()
    {
        var granted = await _handler.CarryOutAsync(Lease(term: 1, ttlMs: 60_000, fenceOnStart: true));

        Assert.True(granted.Ok);
        Assert.True(_lease.IsHeld);
        Assert.True(_lease.FenceOnStart);

        await _handler.CarryOutAsync(new Command { CommandId = "c3", Term = 1, RestartLease = new RestartLease { Granted = false, Reason = "host under confirmation" } });
        Assert.False(_lease.IsHeld);
        Assert.Contains("host under confirmation", _lease.WhyNotHeld, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public async Task A_lease_with_no_time_is_refused(long ttlMs)
    {
        var result = await _handler.CarryOutAsync(Lease(term: 1, ttlMs));

        Assert.False(result.Ok);
        Assert.Contains("positive ttl_ms", result.Error, StringComparison.Ordinal);
        Assert.False(_lease.IsHeld);
    }

    [Fact]
    public async Task A_probe_is_answered_with_what_the_agent_sees_in_both_vocabularies()
    {
        var refused = new PortProbeResult(PortProbeOutcome.Refused, T0, TimeSpan.FromMilliseconds(1));
        _observations.RecordPort("db-2", refused, NodeVerdict.ProcessDown, new VerdictChange(NodeVerdict.Unknown, NodeVerdict.ProcessDown, T0, refused, 3));

        var result = await _handler.CarryOutAsync(new Command { CommandId = "p1", Term = 1, ProbeNow = new ProbeNow { Target = "db-2" } });

        Assert.True(result.Ok);
        var seen = result.Observation;
        Assert.Equal((Verdict.ProcessDown, PortOutcome.Refused, HostVerdict.Unknown), (seen.Verdict, seen.Port, seen.HostVerdict));
        Assert.Equal(("ProcessDown", "Refused", "Unknown"), (seen.VerdictName, seen.PortName, seen.HostVerdictName));
        Assert.Equal(T0, seen.At.ToDateTimeOffset());
    }

    [Fact]
    public async Task A_probe_of_a_target_the_agent_does_not_watch_fails_with_its_name()
    {
        var result = await _handler.CarryOutAsync(new Command { CommandId = "p2", Term = 1, ProbeNow = new ProbeNow { Target = "ghost\nforged" } });

        Assert.False(result.Ok);
        Assert.Equal("this agent does not watch 'ghost\\x0aforged'", result.Error);
    }

    [Fact]
    public async Task A_command_with_no_action_fails_instead_of_throwing()
    {
        var result = await _handler.CarryOutAsync(new Command { CommandId = "e1", Term = 1 });

        Assert.False(result.Ok);
        Assert.Equal("unknown command None", result.Error);
    }

    private static Command Lease(long term, long ttlMs, bool fenceOnStart = false) =>
        new() { CommandId = "l" + term, Term = term, RestartLease = new RestartLease { Granted = true, TtlMs = ttlMs, FenceOnStart = fenceOnStart } };
}
