using RedisAgent.Load.Harness;

namespace RedisAgent.Tests.Load;

/// <summary>The 50,000-node model of issue 14 (load/run sizing): its arithmetic, on inputs whose answers are known.</summary>
public sealed class FleetSizingTests
{
    [Fact]
    public void Fifty_thousand_nodes_make_the_groups_keys_and_reads_the_arithmetic_says()
    {
        var inputs = new SizingInputs();
        var result = FleetSizing.Run(inputs);

        Assert.Equal(16_666, result.Resources);
        // 49,998 agents, 5,000 a leader.
        Assert.Equal(10, result.Groups);
        Assert.Equal(30, result.Coordinators);
        // Two followers a group, each reading the leader key twice a second.
        Assert.Equal(40, result.EtcdReadsPerSecond);
        // A record and 10,000 journal lines a resource, a leader key and its lease a group.
        Assert.Equal(16_666 + (16_666L * 10_000) + 20, result.EtcdKeysAtDefaultRetention);
        Assert.Equal((1_000_000 - 16_666 - 20) / 16_666, result.MaxJournalLinesForKeyBudget);
        // Detection, the window, and the decision's ten fixed writes at 2 ms.
        Assert.Equal(1 + 10 + 0.02, result.DecisionSecondsQuiet, 9);
    }

    [Fact]
    public void The_simulation_is_seeded_and_its_failures_match_the_rates()
    {
        var inputs = new SizingInputs { Days = 30 };
        var first = FleetSizing.Run(inputs);

        Assert.Equal(first, FleetSizing.Run(inputs));
        // 0.01 crashes a node a day: about 15,000 in 30 days.
        Assert.InRange(first.Restarts, 14_000, 16_000);
        // 0.001 host losses a day, plus a rack of 50 a week: a third of the nodes lost are primaries.
        var lost = first.Failovers + first.Rebuilds;
        Assert.InRange(lost, 1_300, 2_000);
        Assert.InRange(first.Failovers / (double)lost, 0.28, 0.39);
        Assert.True(first.PeakEtcdWritesPerSecond > first.SteadyEtcdWritesPerSecond);
    }

    [Fact]
    public void A_burst_beyond_etcds_budget_delays_the_decisions_by_what_it_cannot_write_in_the_window()
    {
        // Every rack lost every day, and one etcd allowed ten writes a second.
        var inputs = new SizingInputs { RackLossesPerRackDay = 1, EtcdWritesPerSecondBudget = 10, Days = 1 };
        var one = FleetSizing.Run(inputs with { EtcdClusters = 1 });
        var enough = FleetSizing.Run(inputs);

        Assert.True(one.DecisionSecondsWorstBurst > one.DecisionSecondsQuiet + 10, $"{one.DecisionSecondsWorstBurst} s");
        Assert.True(enough.EtcdClustersNeeded > 1);
        Assert.Equal(enough.DecisionSecondsQuiet, enough.DecisionSecondsWorstBurst);
    }
}
