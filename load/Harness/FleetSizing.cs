using System.Globalization;
using System.Text;

namespace RedisAgent.Load.Harness;

/// <summary>
/// What a deployment of many nodes asks of the coordinators and of etcd (issue 14): a model, with
/// its assumptions as parameters, and a seeded Monte Carlo of failures over days, a correlated
/// rack loss included. Measured figures it starts from are named where they are used.
/// </summary>
public sealed record SizingInputs
{
    public int Nodes { get; init; } = 50_000;

    public int NodesPerResource { get; init; } = 3;

    /// <summary>Agents one leading coordinator carries at one report a second: the 5,000-agent fleet run on the file store (docs/benchmarks.md).</summary>
    public int AgentsPerGroup { get; init; } = 5_000;

    /// <summary>Coordinators per group (one leads, the others wait on the leader key).</summary>
    public int CoordinatorsPerGroup { get; init; } = 3;

    public double WindowSeconds { get; init; } = 10;

    public double ReportIntervalSeconds { get; init; } = 1;

    public double LeaderTtlSeconds { get; init; } = 5;

    /// <summary>How often a follower reads the leader key (EtcdLeadership: every 0.5 s).</summary>
    public double FollowerPollSeconds { get; init; } = 0.5;

    /// <summary>
    /// etcd writes (transactions) of one failover: suspect, opened, a round line per confirmation
    /// round (window / report interval), confirmed, candidates, promote, the term's record,
    /// settings, loss, recovered, in-sync: about 10 + the rounds (ResourceMachine's journal calls).
    /// </summary>
    public int FixedWritesPerFailover { get; init; } = 10;

    /// <summary>etcd writes when a replica's host is lost and its standby rebuilt (suspect, opened, rounds, rebuilt, in-sync).</summary>
    public int FixedWritesPerRebuild { get; init; } = 5;

    /// <summary>etcd writes of a process restart (the journal's line for it).</summary>
    public int WritesPerRestart { get; init; } = 1;

    /// <summary>Process crashes per node per day (an assumption: a busy fleet's bad day).</summary>
    public double ProcessCrashesPerNodeDay { get; init; } = 0.01;

    /// <summary>Host losses per host per day (an assumption: about one host in three a year).</summary>
    public double HostLossesPerHostDay { get; init; } = 0.001;

    public int Racks { get; init; } = 1_000;

    /// <summary>Whole-rack losses per rack per day (an assumption: about one rack in a thousand a week).</summary>
    public double RackLossesPerRackDay { get; init; } = 1.0 / 7_000;

    /// <summary>Transactions a second one etcd cluster is given for this (an assumption, not a measurement here: a 3-member cluster on SSDs, kept far below its limit).</summary>
    public double EtcdWritesPerSecondBudget { get; init; } = 1_000;

    /// <summary>etcd clusters the groups share; 0: as many as the peak second's writes need.</summary>
    public int EtcdClusters { get; init; }

    /// <summary>etcd keys one cluster is given (an assumption: etcd's guidance keeps the database to a few GB).</summary>
    public long EtcdKeyBudget { get; init; } = 1_000_000;

    /// <summary>Journal lines kept per resource (Failover:Etcd:MaxJournalLines).</summary>
    public int MaxJournalLines { get; init; } = 10_000;

    /// <summary>Round trip of one etcd transaction (an assumption: loopback-to-LAN).</summary>
    public double EtcdRoundTripMs { get; init; } = 2;

    public int Days { get; init; } = 30;

    public int Seed { get; init; } = 1;
}

/// <summary>What the model and the simulation found.</summary>
public sealed record SizingResult(
    int Resources,
    int Groups,
    int Coordinators,
    double ReportsPerSecondPerLeader,
    double SteadyEtcdWritesPerSecond,
    double EtcdReadsPerSecond,
    double JournalLinesPerResourcePerDay,
    long EtcdKeysAtDefaultRetention,
    int MaxJournalLinesForKeyBudget,
    double PeakEtcdWritesPerSecond,
    int LargestBurstFailovers,
    double DecisionSecondsQuiet,
    double DecisionSecondsWorstBurst,
    int EtcdClustersNeeded,
    long Failovers,
    long Rebuilds,
    long Restarts)
{
    public string Markdown(SizingInputs inputs)
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.Append(c, $"| figure | value |\n|---|---:|\n");
        text.Append(c, $"| nodes / resources (of {inputs.NodesPerResource}) | {inputs.Nodes:N0} / {Resources:N0} |\n");
        text.Append(c, $"| coordinator groups (≤ {inputs.AgentsPerGroup:N0} agents each) / coordinators | {Groups} / {Coordinators} |\n");
        text.Append(c, $"| reports a second per leader | {ReportsPerSecondPerLeader:N0} |\n");
        text.Append(c, $"| etcd reads a second (followers polling the leader keys) | {EtcdReadsPerSecond:N0} |\n");
        text.Append(c, $"| etcd writes a second, steady (leases of leadership + decisions, averaged over {inputs.Days} days) | {SteadyEtcdWritesPerSecond:N1} |\n");
        text.Append(c, $"| etcd writes a second, peak second (the largest rack loss) | {PeakEtcdWritesPerSecond:N0} |\n");
        text.Append(c, $"| failovers / rebuilds / restarts in {inputs.Days} days | {Failovers:N0} / {Rebuilds:N0} / {Restarts:N0} |\n");
        text.Append(c, $"| largest burst: failovers decided at once (one rack lost) | {LargestBurstFailovers} |\n");
        text.Append(c, $"| failover decision, quiet / in the largest burst | {DecisionSecondsQuiet:N2} s / {DecisionSecondsWorstBurst:N2} s |\n");
        text.Append(c, $"| journal lines a resource writes a day | {JournalLinesPerResourcePerDay:N2} |\n");
        text.Append(c, $"| etcd keys with MaxJournalLines {inputs.MaxJournalLines:N0} (full journals) | {EtcdKeysAtDefaultRetention:N0} |\n");
        text.Append(c, $"| MaxJournalLines that keeps the keys within {inputs.EtcdKeyBudget:N0} | {MaxJournalLinesForKeyBudget:N0} |\n");
        text.Append(c, $"| etcd clusters (needed for writes within {inputs.EtcdWritesPerSecondBudget:N0}/s at the peak, keys within budget, unless given) | {EtcdClustersNeeded} |\n");
        return text.ToString();
    }
}

public static class FleetSizing
{
    public static SizingResult Run(SizingInputs inputs)
    {
        var resources = inputs.Nodes / inputs.NodesPerResource;
        var nodes = resources * inputs.NodesPerResource;
        var groups = (int)Math.Ceiling(nodes / (double)inputs.AgentsPerGroup);
        var rounds = (int)Math.Ceiling(inputs.WindowSeconds / inputs.ReportIntervalSeconds);
        var writesPerFailover = inputs.FixedWritesPerFailover + rounds;
        var writesPerRebuild = inputs.FixedWritesPerRebuild + rounds;

        // Placement: a resource's nodes in different racks; node i of resource r in rack (r * k + i) mod racks.
        var random = new Random(inputs.Seed);
        var seconds = inputs.Days * 86_400;
        long failovers = 0, rebuilds = 0, restarts = 0;
        var writesBySecond = new Dictionary<long, double>();
        var largestBurst = 0;
        var largestBurstWrites = 0.0;

        void AddWrites(long second, double writes, double spreadSeconds)
        {
            // A decision's writes spread over its window (the rounds), the rest at its end.
            var spread = Math.Max(1, (int)Math.Ceiling(spreadSeconds));
            for (var s = 0; s < spread; s++)
            {
                writesBySecond[second + s] = writesBySecond.GetValueOrDefault(second + s) + writes / spread;
            }
        }

        // Independent events: Poisson counts over the period, at uniform instants.
        restarts = Poisson(random, inputs.ProcessCrashesPerNodeDay * nodes * inputs.Days);
        for (var i = 0; i < restarts; i++)
        {
            AddWrites(random.NextInt64(seconds), inputs.WritesPerRestart, 1);
        }

        var hostLosses = Poisson(random, inputs.HostLossesPerHostDay * nodes * inputs.Days);
        for (var i = 0; i < hostLosses; i++)
        {
            // One node in NodesPerResource is the primary.
            var primary = random.Next(inputs.NodesPerResource) == 0;
            if (primary)
            {
                failovers++;
            }
            else
            {
                rebuilds++;
            }

            AddWrites(random.NextInt64(seconds), primary ? writesPerFailover : writesPerRebuild, inputs.WindowSeconds);
        }

        var nodesPerRack = nodes / (double)inputs.Racks;
        var rackLosses = Poisson(random, inputs.RackLossesPerRackDay * inputs.Racks * inputs.Days);
        for (var i = 0; i < rackLosses; i++)
        {
            // Every node of the rack at once; a third of them primaries (one per resource in the rack).
            var lost = (int)Math.Round(nodesPerRack);
            var primaries = 0;
            for (var n = 0; n < lost; n++)
            {
                primaries += random.Next(inputs.NodesPerResource) == 0 ? 1 : 0;
            }

            failovers += primaries;
            rebuilds += lost - primaries;
            var writes = (primaries * (double)writesPerFailover) + ((lost - primaries) * (double)writesPerRebuild);
            AddWrites(random.NextInt64(seconds), writes, inputs.WindowSeconds);
            if (primaries > largestBurst)
            {
                largestBurst = primaries;
                largestBurstWrites = writes;
            }
        }

        var leaderRenewals = groups / (inputs.LeaderTtlSeconds / 4);
        var decisionWrites = writesBySecond.Values.Sum();
        var steady = leaderRenewals + (decisionWrites / seconds);
        var peak = leaderRenewals + (writesBySecond.Count == 0 ? 0 : writesBySecond.Values.Max());
        var reads = groups * (inputs.CoordinatorsPerGroup - 1) / inputs.FollowerPollSeconds;

        // Decision latency: detection (a report interval) + the window + the decision's own writes
        // in sequence (a resource's writes wait for etcd under its lock); in a burst the writes of
        // all the burst's decisions share one etcd's budget.
        var quiet = inputs.ReportIntervalSeconds + inputs.WindowSeconds + (inputs.FixedWritesPerFailover * inputs.EtcdRoundTripMs / 1000);
        var clustersForWrites = (int)Math.Ceiling(peak / inputs.EtcdWritesPerSecondBudget);
        var journalPerDay = decisionWrites / inputs.Days / Math.Max(1, resources);
        var keysFull = resources + ((long)resources * inputs.MaxJournalLines) + (groups * 2L);
        var maxJournalForBudget = (int)Math.Max(0, (inputs.EtcdKeyBudget - resources - (groups * 2L)) / Math.Max(1, resources));
        var clusters = inputs.EtcdClusters > 0 ? inputs.EtcdClusters : Math.Max(1, clustersForWrites);
        var burstDrain = largestBurstWrites / (inputs.EtcdWritesPerSecondBudget * clusters);
        var worst = quiet + Math.Max(0, burstDrain - inputs.WindowSeconds);
        return new SizingResult(
            resources, groups, groups * inputs.CoordinatorsPerGroup, inputs.AgentsPerGroup / inputs.ReportIntervalSeconds,
            steady, reads, journalPerDay, keysFull, maxJournalForBudget, peak, largestBurst, quiet, worst, clusters, failovers, rebuilds, restarts);
    }

    private static long Poisson(Random random, double mean)
    {
        if (mean <= 0)
        {
            return 0;
        }

        if (mean > 50)
        {
            // Normal approximation for large means.
            var u1 = 1.0 - random.NextDouble();
            var u2 = random.NextDouble();
            var z = Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            return Math.Max(0, (long)Math.Round(mean + (z * Math.Sqrt(mean))));
        }

        var limit = Math.Exp(-mean);
        long k = 0;
        var p = 1.0;
        do
        {
            k++;
            p *= random.NextDouble();
        }
        while (p > limit);
        return k - 1;
    }
}
