using System.Text.Json;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Metrics;

/// <summary>
/// Issue 17, deploy/grafana/redis-plan-limits.json: every query of every panel, evaluated by a real
/// Prometheus scraping a real agent on a plan, returns data; and the file is a dashboard Grafana
/// imports (a datasource input every panel uses, unique panel ids, a place on the grid).
/// </summary>
public sealed class GrafanaDashboardTests
{
    private static readonly string File = RepositoryFiles.Path("deploy/grafana/redis-plan-limits.json");

    [Fact]
    public async Task Every_panels_query_returns_data_from_a_prometheus_scraping_an_agent()
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?> { ["Plan:Name"] = "premium-0" });
        await using var prometheus = await PrometheusServer.StartAsync([agent.HttpAddress.Authority], TimeSpan.FromMilliseconds(250));
        await using (var client = await RespClient.ConnectAsync("127.0.0.1", agent.Port))
        {
            await client.CommandAsync("SET", "some", "data");
        }

        var queries = Queries().ToList();
        Assert.True(queries.Count >= 8, $"{queries.Count} queries");
        foreach (var (panel, expression) in queries)
        {
            double? value = null;
            await Poll.UntilAsync(async () => (value = await prometheus.QueryAsync(expression)) is not null, TimeSpan.FromSeconds(30),
                () => $"panel '{panel}': {expression} returns no data. Targets: {prometheus.TargetsAsync().Result}");
        }

        // The limit lines are the plan's own figures.
        Assert.Equal(50 * 1024 * 1024, await prometheus.QueryAsync("redis_plan_memory_limit_bytes and on(instance) redis_instance_info{role=\"master\"}"));
        Assert.Equal(40, await prometheus.QueryAsync("redis_plan_connections_limit and on(instance) redis_instance_info{role=\"master\"}"));
    }

    [Fact]
    public void The_file_is_a_dashboard_grafana_imports()
    {
        using var document = JsonDocument.Parse(System.IO.File.ReadAllText(File));
        var root = document.RootElement;
        Assert.Equal("DS_PROMETHEUS", root.GetProperty("__inputs")[0].GetProperty("name").GetString());
        Assert.False(string.IsNullOrEmpty(root.GetProperty("uid").GetString()));
        var panels = root.GetProperty("panels").EnumerateArray().ToList();
        Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
        foreach (var panel in panels)
        {
            Assert.Equal("${DS_PROMETHEUS}", panel.GetProperty("datasource").GetProperty("uid").GetString());
            Assert.True(panel.GetProperty("gridPos").GetProperty("w").GetInt32() > 0);
            Assert.NotEmpty(panel.GetProperty("targets").EnumerateArray());
        }
    }

    private static IEnumerable<(string Panel, string Expression)> Queries()
    {
        using var document = JsonDocument.Parse(System.IO.File.ReadAllText(File));
        foreach (var panel in document.RootElement.GetProperty("panels").EnumerateArray())
        {
            foreach (var target in panel.GetProperty("targets").EnumerateArray())
            {
                yield return (panel.GetProperty("title").GetString()!, target.GetProperty("expr").GetString()!);
            }
        }
    }
}
