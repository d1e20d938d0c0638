using RedisAgent.Metrics;
using RedisAgent.Sampling;

namespace RedisAgent.Tests.Metrics;

public sealed class MetricsLogLineTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public void The_line_has_Herokus_form_with_percentages_of_the_plan()
    {
        var plan = Plans.Find("premium-0", new Dictionary<string, CustomPlanOptions>());
        var sample = PlanTests.Sample(
            ("connected_clients", "11"), ("used_memory", (10 * MiB).ToString()), ("maxmemory", "0"), ("evicted_keys", "7"),
            ("keyspace_hits", "30"), ("keyspace_misses", "10"));

        var line = MetricsLogLine.Format("redis-clear-69157", plan, sample, previous: null, (0.5, 0.25, 0.125));

        Assert.Equal(
            "source=REDIS addon=redis-clear-69157 sample#active-connections=10 sample#max-connections=40 sample#connection-percentage-used=0.25 " +
            "sample#load-avg-1m=0.5 sample#load-avg-5m=0.25 sample#load-avg-15m=0.125 sample#memory-redis=10485760bytes " +
            "sample#memory-max=52428800bytes sample#memory-percentage-used=0.2 sample#hit-rate=0.75 sample#evicted-keys=7",
            line);
    }

    [Fact]
    public void The_hit_rate_covers_the_lookups_since_the_previous_line()
    {
        var previous = PlanTests.Sample(("keyspace_hits", "30"), ("keyspace_misses", "10"));
        var sample = PlanTests.Sample(("keyspace_hits", "31"), ("keyspace_misses", "13"));

        Assert.Contains("sample#hit-rate=0.25 ", MetricsLogLine.Format("r", null, sample, previous, null), StringComparison.Ordinal);
    }

    [Fact]
    public void No_lookups_no_hit_rate_and_no_limit_no_percentage()
    {
        var sample = PlanTests.Sample(("keyspace_hits", "30"), ("keyspace_misses", "10"), ("used_memory", "100"), ("maxmemory", "0"));

        var line = MetricsLogLine.Format("r", null, sample, sample, null);

        Assert.DoesNotContain("hit-rate", line, StringComparison.Ordinal);
        Assert.DoesNotContain("memory-percentage-used", line, StringComparison.Ordinal);
        Assert.DoesNotContain("NaN", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Infinity", line, StringComparison.Ordinal);
    }

    [Fact]
    public void After_a_restart_the_hit_rate_counts_from_the_restart()
    {
        var previous = PlanTests.Sample(("keyspace_hits", "1000"), ("keyspace_misses", "1000"));
        var sample = PlanTests.Sample(("keyspace_hits", "9"), ("keyspace_misses", "1"));

        Assert.Contains("sample#hit-rate=0.9 ", MetricsLogLine.Format("r", null, sample, previous, null), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.52 0.58 0.59 2/467 12345\n", 0.52, 0.58, 0.59)]
    [InlineData("12.00 3.5 1 1/1 1", 12.0, 3.5, 1.0)]
    public void Load_averages_are_read_from_proc_loadavg(string text, double one, double five, double fifteen) =>
        Assert.Equal((one, five, fifteen), LoadAverage.Parse(text));

    [Fact]
    public void This_hosts_load_average_can_be_read() => Assert.NotNull(LoadAverage.Read());
}
