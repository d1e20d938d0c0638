using RedisAgent.Metrics;
using RedisAgent.Sampling;

namespace RedisAgent.Tests.Metrics;

public sealed class PlanTests
{
    private const long MiB = 1024 * 1024;
    private const long GiB = 1024 * MiB;

    [Theory]
    [InlineData("mini", 25 * MiB, 20)]
    [InlineData("premium-0", 50 * MiB, 40)]
    [InlineData("premium-1", 100 * MiB, 80)]
    [InlineData("premium-2", 250 * MiB, 200)]
    [InlineData("premium-3", 500 * MiB, 400)]
    [InlineData("premium-4", 750 * MiB, 700)]
    [InlineData("premium-5", 1 * GiB, 1_000)]
    [InlineData("premium-7", 7 * GiB, 10_000)]
    [InlineData("premium-9", 10 * GiB, 25_000)]
    [InlineData("premium-10", 25 * GiB, 40_000)]
    [InlineData("premium-12", 50 * GiB, 65_000)]
    [InlineData("premium-14", 100 * GiB, 65_000)]
    [InlineData("private-7", 7 * GiB, 10_000)]
    [InlineData("shield-14", 100 * GiB, 65_000)]
    [InlineData("Premium-0", 50 * MiB, 40)]
    public void The_built_in_table_has_Herokus_limits(string name, long memory, long connections)
    {
        var plan = Plans.Find(name, new Dictionary<string, CustomPlanOptions>());

        Assert.NotNull(plan);
        Assert.Equal((memory, connections), (plan.MemoryBytes, plan.Connections));
    }

    [Theory]
    [InlineData("premium-6")]
    [InlineData("premium-8")]
    [InlineData("hobby-dev")]
    [InlineData("")]
    public void Tiers_Heroku_does_not_sell_are_not_in_the_table(string name) =>
        Assert.Null(Plans.Find(name, new Dictionary<string, CustomPlanOptions>()));

    [Fact]
    public void A_custom_plan_is_found_by_name_with_its_own_limits()
    {
        var custom = new Dictionary<string, CustomPlanOptions> { ["gold"] = new() { Memory = "2gb", Connections = 500 } };

        var plan = Plans.Find("GOLD", custom);

        Assert.Equal(new Plan("gold", 2 * GiB, 500, BuiltIn: false), plan);
    }

    [Theory]
    [InlineData("1048576", 1048576)]
    [InlineData("1k", 1000)]
    [InlineData("1kb", 1024)]
    [InlineData("25mb", 25 * MiB)]
    [InlineData("25MB", 25 * MiB)]
    [InlineData("25m", 25_000_000)]
    [InlineData(" 2gb ", 2 * GiB)]
    [InlineData("3g", 3_000_000_000)]
    public void Sizes_read_as_redis_conf_reads_them(string text, long bytes)
    {
        Assert.True(Plans.TryParseSize(text, out var parsed));
        Assert.Equal(bytes, parsed);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("-5mb")]
    [InlineData("25 megabytes")]
    [InlineData("1.5gb")]
    [InlineData("99999999999gb")]
    public void Sizes_that_are_not_sizes_are_refused(string? text) => Assert.False(Plans.TryParseSize(text, out _));

    [Fact]
    public void Without_a_plan_and_with_maxmemory_0_there_is_no_memory_limit_and_no_ratio()
    {
        var usage = PlanUsage.Compute(null, Sample(("used_memory", "1000000"), ("maxmemory", "0"), ("connected_clients", "5"), ("maxclients", "100")));

        Assert.Null(usage.MemoryLimit);
        Assert.Null(usage.MemoryRatio);
        Assert.Equal(100, usage.ConnectionLimit);
        Assert.Equal(0.04, usage.ConnectionRatio!.Value, 6);
        Assert.Equal("none", usage.PlanName);
    }

    [Fact]
    public void A_plan_wins_over_the_servers_own_limits_and_the_agents_connection_is_not_counted()
    {
        var plan = Plans.Find("premium-0", new Dictionary<string, CustomPlanOptions>());

        var usage = PlanUsage.Compute(plan, Sample(("used_memory", (25 * MiB).ToString()), ("maxmemory", "0"), ("connected_clients", "11"), ("maxclients", "10000")));

        Assert.Equal(50 * MiB, usage.MemoryLimit);
        Assert.Equal(0.5, usage.MemoryRatio);
        Assert.Equal(10, usage.ActiveConnections);
        Assert.Equal(0.25, usage.ConnectionRatio);
    }

    [Fact]
    public void Without_a_plan_maxmemory_is_the_limit()
    {
        var usage = PlanUsage.Compute(null, Sample(("used_memory", "250"), ("maxmemory", "1000")));

        Assert.Equal(0.25, usage.MemoryRatio);
    }

    [Fact]
    public void A_sample_where_only_the_agent_is_connected_has_no_active_connections()
    {
        Assert.Equal(0, PlanUsage.Compute(null, Sample(("connected_clients", "1"))).ActiveConnections);
        Assert.Equal(0, PlanUsage.Compute(null, Sample(("connected_clients", "0"))).ActiveConnections);
    }

    internal static RedisSample Sample(params (string Key, string Value)[] fields) =>
        new(fields.ToDictionary(f => f.Key, f => f.Value), null, DateTimeOffset.UnixEpoch, TimeSpan.Zero);
}
