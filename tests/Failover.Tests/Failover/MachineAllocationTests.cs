using RedisFailover.Coordination;
using RedisFailover.Protos;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// The coordinator ticks every resource ten times a second and applies every report: for a fleet of
/// 5,000 agents, 16,660 ticks and 5,000 reports a second. Whatever they allocate brings the next
/// collection, and with it a pause of every stream, sooner (docs/benchmarks.md: about 50 ms each). A
/// healthy resource's tick allocates nothing, and a report little beyond what the machine keeps (its
/// lease renewals, a third of a window apart). Measured on this thread, exactly, after a warm-up; the
/// bounds are generous (before this was asserted: 264 bytes a tick, 534 a report).
/// </summary>
public sealed class MachineAllocationTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 0, 0, 0, TimeSpan.Zero);
    private static readonly string[] Nodes = ["n1", "n2", "n3"];

    [Fact]
    public void A_healthy_resource_ticks_without_allocating_and_takes_a_report_for_little_more_than_it_keeps()
    {
        var policy = new FailoverPolicy(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), null, 1000, TimeSpan.FromSeconds(5));
        var machine = new ResourceMachine("cache", [new("n1", "127.0.0.11:6379", "a"), new("n2", "127.0.0.12:6379", "b"), new("n3", "127.0.0.13:6379", "c")],
            policy, term: 1, primary: "n1", new ResourceSettings(300, "allkeys-lru"), paused: false);
        foreach (var node in Nodes)
        {
            machine.Connected(node, 1, T0);
        }

        // Made beforehand: the reports are what an agent sends, not what the machine allocates.
        var reports = Enumerable.Range(0, 1100 * Nodes.Length).Select(i => Report(Nodes[i % 3], 1000 + i, T0.AddSeconds(i / 3))).ToArray();
        long reportBytes = 0;
        long tickBytes = 0;
        for (var second = 0; second < 1100; second++)
        {
            var now = T0.AddSeconds(second);
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var n = 0; n < Nodes.Length; n++)
            {
                machine.Reported(Nodes[n], reports[(second * 3) + n], now);
            }

            var between = GC.GetAllocatedBytesForCurrentThread();
            for (var tick = 0; tick < 10; tick++)
            {
                machine.Tick(now.AddMilliseconds(100 * tick));
            }

            if (second >= 100)
            {
                // The first hundred seconds warm it up (the leases granted, the first in-sync record asked for).
                reportBytes += between - before;
                tickBytes += GC.GetAllocatedBytesForCurrentThread() - between;
            }
        }

        Assert.Equal(RedisFailover.Coordination.ResourceState.Healthy, machine.State);
        Assert.True(tickBytes / 10_000.0 < 32, $"a healthy tick allocated {tickBytes / 10_000.0:0.#} bytes on average");
        Assert.True(reportBytes / 3_000.0 < 300, $"a healthy report allocated {reportBytes / 3_000.0:0.#} bytes on average");
    }

    /// <summary>Every report is checked before the machine reads it (WireLimits): a report that passes costs nothing (a RepeatedField's enumerator is an object; it was one a report).</summary>
    [Fact]
    public void Checking_a_valid_report_allocates_nothing()
    {
        var report = new Report
        {
            Role = NodeRole.Replica, ReplicationOffset = 1234, LinkUp = true, PrimaryAddress = "127.0.0.11:6379", TermSeen = 3, LocalVerdict = Verdict.Healthy, Sequence = 9,
            Settings = new Settings { TimeoutSeconds = 300, MaxmemoryPolicy = "allkeys-lru" },
            SelfFencedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(T0),
        };
        foreach (var target in Nodes)
        {
            report.Observations.Add(new Observation { Target = target, Verdict = Verdict.Healthy, HostVerdict = HostVerdict.Up, Port = PortOutcome.Pong, At = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(T0) });
        }

        Assert.Null(RedisFailover.Services.WireLimits.ReportProblem(report));
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            Assert.Null(RedisFailover.Services.WireLimits.ReportProblem(report));
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"1,000 checks of a valid report allocated {allocated} bytes");
    }

    /// <summary>The loop that replaced LINQ still finds a control character wherever it is.</summary>
    [Theory]
    [InlineData("\n127.0.0.11:6379")]
    [InlineData("127.0.0.11:6379\u0000")]
    [InlineData("127.0.0\u0085.11:6379")]
    public void A_control_character_in_an_identifier_is_still_refused(string address)
    {
        var report = new Report { Role = NodeRole.Replica, PrimaryAddress = address };

        Assert.Equal("primary_address holds a control character", RedisFailover.Services.WireLimits.ReportProblem(report));
    }

    private static NodeReport Report(string node, long offset, DateTimeOffset at)
    {
        TargetSeen[] seen = [.. Nodes.Where(n => n != node).Select(n => new TargetSeen(n, Verdict.Healthy, HostVerdict.Up, at, PortOutcome.Pong))];
        return node == "n1"
            ? new NodeReport(NodeRole.Primary, offset, false, null, false, Verdict.Healthy, false, 1, new ResourceSettings(300, "allkeys-lru"), seen)
            : new NodeReport(NodeRole.Replica, offset, true, "127.0.0.11:6379", false, Verdict.Healthy, false, 1, new ResourceSettings(300, "allkeys-lru"), seen);
    }
}
