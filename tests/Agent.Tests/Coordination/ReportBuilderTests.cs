using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using RedisAgent.Connection;
using RedisAgent.Coordination;
using RedisAgent.Node;
using RedisAgent.Sampling;
using RedisAgent.Testing;
using RedisFailover.Protos;

namespace RedisAgent.Tests.Coordination;

/// <summary>The report the coordinator judges sync and loss by, built from INFO replication and the last sample.</summary>
public sealed class ReportBuilderTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 8, 0, 0, TimeSpan.Zero);
    private readonly UnservedNode _node = new("reports");
    private readonly SampleBook _samples = new();
    private readonly ReportBuilder _reports;

    public ReportBuilderTests()
    {
        _reports = _node.Reports(_samples, new ObservationBook(), new FakeTimeProvider(T0));
    }

    public void Dispose() => _node.Dispose();

    /// <summary>
    /// Issue 16: the agent asks for its node's failover from the first restart that failed (cause
    /// START_FAILED, while its restarts go on), not only at the start limit; not while all is well,
    /// nor while a first restart is under way after a death.
    /// </summary>
    [Theory]
    [InlineData("RestartPending", "a restart failed (StartTimeout: not answering)", FailoverCause.StartFailed)]
    [InlineData("Starting", "a restart failed (RestartFailed: binary missing)", FailoverCause.StartFailed)]
    [InlineData("GaveUp", "start limit reached", FailoverCause.StartLimit)]
    [InlineData("RestartPending", null, null)]
    [InlineData("Watching", null, null)]
    public void A_failover_is_asked_for_from_the_first_failed_restart(string phase, string? needs, FailoverCause? cause)
    {
        var snapshot = new RedisAgent.Node.NodeStatus().Snapshot with { Phase = Enum.Parse<RedisAgent.Node.SupervisorPhase>(phase), NeedsFailover = needs };

        var request = ReportBuilder.Request(snapshot);

        Assert.Equal(cause, request?.Cause);
        Assert.Equal(needs, request?.Reason);
    }

    [Fact]
    public void A_replica_reports_its_own_offset_its_link_and_its_primary()
    {
        Sample(new() { ["role"] = "master", ["master_repl_offset"] = "100" }, timeout: 300, policy: "allkeys-lru");

        var report = _reports.Build(new Dictionary<string, string>
        {
            ["role"] = "slave", ["master_host"] = "127.0.0.11", ["master_port"] = "6379", ["master_link_status"] = "up",
            ["master_sync_in_progress"] = "0", ["slave_repl_offset"] = "5100", ["master_repl_offset"] = "9999",
        });

        Assert.Equal((NodeRole.Replica, "slave", 5100L, true, "127.0.0.11:6379", false),
            (report.Role, report.RoleName, report.ReplicationOffset, report.LinkUp, report.PrimaryAddress, report.SyncInProgress));
        Assert.Equal((300L, "allkeys-lru"), (report.Settings.TimeoutSeconds, report.Settings.MaxmemoryPolicy));
    }

    [Fact]
    public void When_INFO_replication_does_not_answer_the_last_sample_stands_in()
    {
        Sample(new() { ["role"] = "master", ["master_repl_offset"] = "4200", ["master_link_status"] = "up" });

        var report = _reports.Build(fresh: null);

        Assert.Equal((NodeRole.Primary, "master", 4200L, ""), (report.Role, report.RoleName, report.ReplicationOffset, report.PrimaryAddress));
        Assert.Equal(NodeRole.Primary, _reports.Role);
    }

    [Fact]
    public void Before_the_first_sample_no_role_is_claimed()
    {
        var report = _reports.Build(new Dictionary<string, string> { ["role"] = "master" });

        Assert.Equal((NodeRole.Unspecified, ""), (report.Role, report.RoleName));
        Assert.Equal(NodeRole.Unknown, _reports.Role);
        Assert.Equal((Verdict.Unknown, "Unknown"), (report.LocalVerdict, report.LocalVerdictName));
    }

    private void Sample(Dictionary<string, string> info, long? timeout = null, string? policy = null) =>
        _samples.Succeeded(new RedisSample(info, new RedisConfigValues(null, null, policy, timeout, null), T0, TimeSpan.FromMilliseconds(1)));
}
