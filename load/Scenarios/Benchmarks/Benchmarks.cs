namespace RedisAgent.Load.Benchmarks;

/// <summary>
/// The benchmarks that compare the project with its peers fault by fault (Redis Sentinel,
/// redis_exporter, rsyslog, redis-server's own start): each a bounded series of trials with a
/// table of its own, run by name (<c>load/run restart-latency --kills 20</c>). The scenarios run
/// under load simulations are in <see cref="Scenarios.Options"/>.
/// </summary>
internal static class Benchmarks
{
    /// <summary>Every benchmark: its name on the command line, what it measures, its entry point.</summary>
    public static IReadOnlyList<Benchmark> All { get; } =
    [
        new(RestartLatency.RestartLatencyBenchmark.Name, "kill -9 until PING answers again, per restart driver, next to redis-server's own start", RestartLatency.RestartLatencyBenchmark.RunAsync),
        new(HostProbes.HostProbesBenchmark.Name, "CPU per 1,000 SSH probes (kept session vs fresh), time from DROP / kill to a verdict (root)", HostProbes.HostProbesBenchmark.RunAsync),
        new(LogThroughput.LogThroughputBenchmark.Name, "lines/s from a log file to a TCP syslog receiver, the agent beside rsyslog; memory with a stalled drain", LogThroughput.LogThroughputBenchmark.RunAsync),
        new(MetricsScrape.MetricsScrapeBenchmark.Name, "/metrics under wrk at 1, 10, 50 scrapers beside prometheus-redis-exporter; idle sampling cost", MetricsScrape.MetricsScrapeBenchmark.RunAsync),
        new(FailoverVsSentinel.FailoverVsSentinelBenchmark.Name, "the same faults on three loopback hosts handled by redis-failover and by Redis Sentinel (root)", FailoverVsSentinel.FailoverVsSentinelBenchmark.RunAsync),
        new(ClientPaths.ClientPathsBenchmark.Name, "a host loss followed by an application through each path to the primary, beside three real sentinels (root)", ClientPaths.ClientPathsBenchmark.RunAsync),
        new(Switchover.SwitchoverBenchmark.Name, "planned switchovers under a writer beside SENTINEL FAILOVER: writes lost, the write pause (root)", Switchover.SwitchoverBenchmark.RunAsync),
        new(IsolatedWrites.IsolatedWritesBenchmark.Name, "a primary cut off from its network: how long it acknowledges writes a failover discards (root)", IsolatedWrites.IsolatedWritesBenchmark.RunAsync),
    ];

    public static Benchmark? Find(string name) => All.FirstOrDefault(b => string.Equals(b.Name, name, StringComparison.Ordinal));
}

/// <summary>One benchmark: its command-line name, a line saying what it measures, and how to run it with its own arguments.</summary>
internal sealed record Benchmark(string Name, string Measures, Func<string[], Task<int>> RunAsync);
