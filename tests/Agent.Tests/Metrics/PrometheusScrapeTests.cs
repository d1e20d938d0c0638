using System.Globalization;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Metrics;

/// <summary>A real Prometheus server scrapes a running agent; the values are asked back through its HTTP API.</summary>
public sealed class PrometheusScrapeTests
{
    private const long PlanMemory = 8 * 1024 * 1024;

    [Fact]
    public async Task Prometheus_sees_the_plan_memory_ratio_of_known_data()
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Plan:Name"] = "test-plan",
            ["Plans:test-plan:Memory"] = "8mb",
            ["Plans:test-plan:Connections"] = "10",
        });
        await using var prometheus = await PrometheusServer.StartAsync([agent.HttpAddress.Authority], TimeSpan.FromMilliseconds(250));
        await using var client = await RespClient.ConnectAsync("127.0.0.1", agent.Port);

        // Known data: four values of 1 MiB each, about half the plan's 8 MiB.
        var value = new string('x', 1024 * 1024);
        for (var i = 0; i < 4; i++)
        {
            await client.CommandAsync("SET", $"blob:{i}", value);
        }

        double? ratio = null;
        await Poll.UntilAsync(async () => (ratio = await prometheus.QueryAsync("redis_plan_memory_used_ratio")) > 0.5, TimeSpan.FromSeconds(30),
            () => $"Prometheus's ratio is {ratio}. Targets: {prometheus.TargetsAsync().Result}");

        var usedMemory = long.Parse((await client.InfoAsync("memory"))["used_memory"], CultureInfo.InvariantCulture);
        Assert.Equal((double)usedMemory / PlanMemory, ratio!.Value, 0.02);
        Assert.Equal(PlanMemory, await prometheus.QueryAsync("redis_plan_memory_limit_bytes"));
        Assert.Equal(1, await prometheus.QueryAsync("redis_plan_info{plan=\"test-plan\"}"));
        Assert.Equal(4, await prometheus.QueryAsync("redis_db_keys{db=\"db0\"}"));

        // One user connection (this test's) of the plan's 10; the agent's own is not counted.
        double? connections = null;
        await Poll.UntilAsync(async () => (connections = await prometheus.QueryAsync("redis_plan_connections_used_ratio")) == 0.1, TimeSpan.FromSeconds(30),
            () => $"Prometheus's connection ratio is {connections}");
        Assert.Equal(1, await prometheus.QueryAsync("up{job=\"redis-agent\"}"));
    }
}
