using Google.Protobuf.WellKnownTypes;
using RedisFailover.Coordination;
using RedisFailover.Protos;
using RedisFailover.Services;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// How the coordinator reads an agent's report. The machine keeps a node's report for about a
/// second, until the next one: what equals the previous report is shared with it, so that only what
/// changed outlives a collection (the fleet's tail, docs/benchmarks.md). Sharing must never change
/// what the machine reads.
/// </summary>
public sealed class ReportReadingTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 2, 5, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_report_that_repeats_the_last_shares_its_strings_settings_and_unchanged_observations()
    {
        var first = AgentLinkService.ToReport(Wire(offset: 100, seenAt: At), previous: null);
        var second = AgentLinkService.ToReport(Wire(offset: 200, seenAt: At), first);

        Assert.Equal(200, second.ReplicationOffset);
        Assert.Same(first.PrimaryAddress, second.PrimaryAddress);
        Assert.Same(first.Settings, second.Settings);
        Assert.Same(first.RedisVersion, second.RedisVersion);
        Assert.Same(first.Persistence, second.Persistence);
        Assert.Same(first.Plan, second.Plan);
        Assert.Same(first.Observations[0], second.Observations[0]);
        Assert.Same(first.Observations[1], second.Observations[1]);
    }

    [Fact]
    public void A_report_that_changed_reads_as_its_own_values_and_shares_only_the_rest()
    {
        var first = AgentLinkService.ToReport(Wire(offset: 100, seenAt: At), previous: null);
        var changed = Wire(offset: 100, seenAt: At.AddSeconds(1), primary: "127.0.0.9:6379", timeout: 300, policy: "allkeys-lru");
        changed.Observations[1].Verdict = Verdict.HostUnreachable;
        var second = AgentLinkService.ToReport(changed, first);

        Assert.Equal("127.0.0.9:6379", second.PrimaryAddress);
        Assert.Equal(new ResourceSettings(300, "allkeys-lru"), second.Settings);
        Assert.NotSame(first.Settings, second.Settings);
        Assert.Equal(At.AddSeconds(1), second.Observations[0].At);
        Assert.Equal(Verdict.HostUnreachable, second.Observations[1].Verdict);
        Assert.Equal(Verdict.Healthy, first.Observations[1].Verdict);
        // A new observation of the same target keeps the target's name from the last report.
        Assert.Same(first.Observations[0].Target, second.Observations[0].Target);
    }

    [Fact]
    public void A_report_with_fewer_observations_or_none_reads_as_it_is()
    {
        var first = AgentLinkService.ToReport(Wire(offset: 100, seenAt: At), previous: null);
        var fewer = Wire(offset: 100, seenAt: At);
        fewer.Observations.RemoveAt(1);
        Assert.Single(AgentLinkService.ToReport(fewer, first).Observations);

        var none = Wire(offset: 100, seenAt: At);
        none.Observations.Clear();
        none.PlanUsage = null;
        none.Settings = null;
        var read = AgentLinkService.ToReport(none, first);
        Assert.Empty(read.Observations);
        Assert.Null(read.Plan);
        Assert.Equal(ResourceSettings.None, read.Settings);
    }

    /// <summary>A replica's report as an agent sends it; every string a new instance, as parsing the wire makes them.</summary>
    private static Report Wire(long offset, DateTimeOffset seenAt, string primary = "127.0.0.1:6379", long timeout = 0, string policy = "noeviction")
    {
        var report = new Report
        {
            Role = NodeRole.Replica,
            ReplicationOffset = offset,
            LinkUp = true,
            PrimaryAddress = Fresh(primary),
            LocalVerdict = Verdict.Healthy,
            Settings = new Settings { TimeoutSeconds = timeout, MaxmemoryPolicy = Fresh(policy) },
            RedisVersion = Fresh("7.0.15"),
            Persistence = Fresh("none"),
            PlanUsage = new PlanUsage { Plan = Fresh("premium-0"), UsedMemoryBytes = 1024, MemoryLimitBytes = 50 << 20, SampledAt = Timestamp.FromDateTimeOffset(seenAt) },
        };
        foreach (var target in new[] { "n1", "n3" })
        {
            report.Observations.Add(new Observation
            {
                Target = Fresh(target),
                Verdict = Verdict.Healthy,
                HostVerdict = HostVerdict.Up,
                Port = PortOutcome.Pong,
                At = Timestamp.FromDateTimeOffset(seenAt),
            });
        }

        return report;
    }

    private static string Fresh(string value) => new(value.AsSpan());
}
