using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Metrics;

/// <summary>
/// Issue 18: the dashboards and alerts users already run keep working with the agent. Every
/// panel of redis_exporter's own Grafana dashboard and of its mixin, every alert and recording
/// rule of the mixin (vendored under Fixtures/redis_exporter/contrib, MIT, compiled with a real
/// jsonnet), evaluated by a real Prometheus scraping agents, returns data wherever the same
/// expression returns data from a second Prometheus scraping a real redis_exporter on the same
/// Redis servers: a standalone node with data and a replica of it, and a cluster-mode node in
/// cluster_state:fail.
/// </summary>
public sealed partial class ExporterContribTests
{
    private static readonly string Contrib = Path.Combine(AppContext.BaseDirectory, "Metrics", "Fixtures", "redis_exporter", "contrib");
    private static readonly TimeSpan Scrape = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Every_panel_and_rule_returns_data_from_the_agent_where_it_does_from_the_exporter()
    {
        const string Mixin = "((import 'mixin.libsonnet') + { _config+:: { redisExporterSelector: 'job=\"redis-agent\"' } })";
        using var alerts = JsonDocument.Parse(await JsonnetAsync(Mixin + ".prometheusAlerts"));
        using var recording = JsonDocument.Parse(await JsonnetAsync(Mixin + ".prometheusRules"));
        var groups = alerts.RootElement.GetProperty("groups").EnumerateArray().Concat(recording.RootElement.GetProperty("groups").EnumerateArray())
            .Select(g => g.GetRawText());
        var rules = $"{{\"groups\": [{string.Join(',', groups)}]}}";

        await using var standalone = await AgentUnderTest.StartOwningRedisAsync();
        await using var cluster = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Exec:Arguments:0"] = "--cluster-enabled", ["Exec:Arguments:1"] = "yes",
            ["Exec:Arguments:2"] = "--cluster-port", ["Exec:Arguments:3"] = LoopbackPorts.Free().ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        // A replica of the standalone node, for the replication panels (connected replicas, the link's last I/O).
        await using var replica = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Exec:Arguments:0"] = "--replicaof", ["Exec:Arguments:1"] = "127.0.0.1", ["Exec:Arguments:2"] = standalone.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        await using var exporterOfStandalone = await RedisExporterProcess.StartAsync(standalone.Port);
        await using var exporterOfCluster = await RedisExporterProcess.StartAsync(cluster.Port);
        await using var exporterOfReplica = await RedisExporterProcess.StartAsync(replica.Port);
        await using var agents = await PrometheusServer.StartAsync([standalone.HttpAddress.Authority, cluster.HttpAddress.Authority, replica.HttpAddress.Authority], Scrape, rules);
        await using var exporters = await PrometheusServer.StartAsync([exporterOfStandalone.Target, exporterOfCluster.Target, exporterOfReplica.Target], Scrape, rules);
        await using (var client = await RespClient.ConnectAsync("127.0.0.1", standalone.Port))
        {
            for (var i = 0; i < 20; i++)
            {
                await client.CommandAsync("SET", $"key{i}", "value");
                await client.CommandAsync("GET", $"key{i}");
                await client.CommandAsync("GET", $"missing{i}");
            }

            await client.CommandAsync("EXPIRE", "key0", "3600");
        }

        // Both have scraped long enough for rates and the recording rule.
        foreach (var server in new[] { agents, exporters })
        {
            await Poll.UntilAsync(async () => await server.QueryAsync("count(rate(redis_commands_processed_total[1m])) == 3") is not null
                    && await server.QueryAsync("redis_master_last_io_seconds_ago") is not null
                    && await server.QueryAsync("redis_memory_fragmentation_ratio") is not null,
                Deadline, () => "no rates yet: " + server.TargetsAsync().Result);
        }

        var expressions = DashboardExpressions("grafana_prometheus_redis_dashboard.json")
            .Concat(DashboardExpressions(Path.Combine("redis-mixin", "dashboards", "redis-overview.json")))
            .Concat(RuleExpressions(rules))
            .Distinct()
            .ToList();
        var compared = new List<string>();
        foreach (var expression in expressions)
        {
            if (await exporters.QueryAsync(expression) is null)
            {
                continue;
            }

            compared.Add(expression);
            await Poll.UntilAsync(async () => await agents.QueryAsync(expression) is not null, Deadline,
                () => $"the exporter's Prometheus has data for\n  {expression}\nthe agent's has none. Agent targets: {agents.TargetsAsync().Result}");
        }

        Assert.True(compared.Count >= 25, $"only {compared.Count} of {expressions.Count} expressions returned data from the exporter:\n{string.Join('\n', expressions.Except(compared))}");
        // The mixin's cluster alert fires on the agent's figures (it never could before issue 18).
        Assert.Equal(0, await agents.QueryAsync("redis_cluster_state{job=\"redis-agent\"}"));
        Assert.Contains("redis_cluster_state{job=\"redis-agent\"} == 0", compared);
        Assert.Contains(compared, e => e.Contains("redis_master_last_io_seconds_ago", StringComparison.Ordinal));
        Assert.Contains(compared, e => e.Contains("redis_connected_slaves", StringComparison.Ordinal));
    }

    private static IEnumerable<string> DashboardExpressions(string file)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Contrib, file)));
        var found = new List<string>();
        Walk(document.RootElement.GetProperty("panels"), found);
        return found;

        static void Walk(JsonElement panels, List<string> into)
        {
            foreach (var panel in panels.EnumerateArray())
            {
                if (panel.TryGetProperty("panels", out var inner))
                {
                    Walk(inner, into);
                }

                if (panel.TryGetProperty("targets", out var targets))
                {
                    foreach (var target in targets.EnumerateArray())
                    {
                        if (target.TryGetProperty("expr", out var expr) && expr.GetString() is { Length: > 0 } text)
                        {
                            into.Add(Substitute(text));
                        }
                    }
                }
            }
        }
    }

    /// <summary>Each rule's expression and, for an alert, its measure without the threshold (so the comparison is not vacuous when no alert fires).</summary>
    private static IEnumerable<string> RuleExpressions(string rules)
    {
        using var document = JsonDocument.Parse(rules);
        var found = new List<string>();
        foreach (var group in document.RootElement.GetProperty("groups").EnumerateArray())
        {
            foreach (var rule in group.GetProperty("rules").EnumerateArray())
            {
                var expr = rule.GetProperty("expr").GetString()!;
                found.Add(expr);
                if (Threshold().Match(expr) is { Success: true } threshold)
                {
                    found.Add(expr[..threshold.Index]);
                }
            }
        }

        return found;
    }

    /// <summary>Grafana's variables, as a dashboard showing every instance would set them.</summary>
    private static string Substitute(string expression) => expression
        .Replace("$__rate_interval", "1m", StringComparison.Ordinal)
        .Replace("$__interval", "1m", StringComparison.Ordinal)
        .Replace("$namespace", ".*", StringComparison.Ordinal)
        .Replace("$instance", ".*", StringComparison.Ordinal);

    private static async Task<string> JsonnetAsync(string expression)
    {
        var startInfo = new ProcessStartInfo("/usr/bin/jsonnet", ["-e", expression])
        {
            WorkingDirectory = Path.Combine(Contrib, "redis-mixin"),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(startInfo)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(Deadline);
        Assert.True(process.ExitCode == 0, "jsonnet failed: " + await error);
        return await output;
    }

    [GeneratedRegex(@"\s*(==|!=|>=|<=|>|<)\s*[0-9.]+\s*$")]
    private static partial Regex Threshold();
}
