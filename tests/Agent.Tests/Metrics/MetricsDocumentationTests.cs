using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using RedisAgent.Logs;
using RedisAgent.Metrics;
using RedisAgent.Node;
using RedisAgent.Sampling;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Metrics;

/// <summary>docs/metrics.md lists every metric the agent serves.</summary>
public sealed class MetricsDocumentationTests
{
    [Fact]
    public async Task Every_metric_family_is_in_docs_metrics()
    {
        var readme = await File.ReadAllTextAsync(RepositoryFiles.Path("docs/metrics.md"));
        var samples = new SampleBook();
        var info = new Dictionary<string, string>(RedisMetricsTests.OldSample().Info)
        {
            ["role"] = "slave", ["master_host"] = "127.0.0.11", ["master_port"] = "6379", ["master_link_status"] = "up",
            ["master_last_io_seconds_ago"] = "1", ["master_sync_in_progress"] = "0", ["slave_repl_offset"] = "1",
            ["errorstat_ERR"] = "count=1", ["cmdstat_get"] = "calls=1,usec=1,usec_per_call=1.00,rejected_calls=0,failed_calls=0",
            ["maxclients"] = "10000", ["slave_read_only"] = "1", ["cluster_enabled"] = "1", ["used_active_time_io_thread_0"] = "1",
            ["latency_percentiles_usec_get"] = "p50=1.003,p99=1.003,p99.9=1.003",
        };
        var cluster = InfoParser.Parse(
            "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\n" +
            "cluster_known_nodes:6\r\ncluster_size:3\r\ncluster_current_epoch:6\r\ncluster_my_epoch:2\r\n" +
            "cluster_stats_messages_sent:1483972\r\ncluster_stats_messages_received:1483968\r\n");
        samples.Succeeded(new RedisSample(info, new RedisConfigValues(10000, 0, "noeviction", 300, ""), DateTimeOffset.UnixEpoch, TimeSpan.Zero,
            new SlowlogValues(1, 1, TimeSpan.FromMilliseconds(1)), cluster));
        var metrics = new AgentMetrics(samples, new NodeStatus(), new ObservationBook(), new LogBus(Options.Create(new LogOptions())),
            Options.Create(new PlanOptions { Name = "premium-0" }), new FakeTimeProvider(), NullLogger<AgentMetrics>.Instance);
        using var stream = new MemoryStream();
        await metrics.ExportAsTextAsync(stream, CancellationToken.None);
        var families = PromText.Types(Encoding.UTF8.GetString(stream.ToArray())).Keys
            .Concat(RedisMetricMap.Fields.Concat(RedisMetricMap.StatusFields).Select(f => "redis_" + f.Name))
            .Where(n => !n.StartsWith("process_", StringComparison.Ordinal) && !n.StartsWith("dotnet_", StringComparison.Ordinal))
            .Distinct()
            .ToList();

        Assert.True(families.Count > 100, $"only {families.Count} families rendered");
        // And the other way: every family docs/metrics.md names is one the agent serves (the
        // README's old table listed names no exporter emits).
        var documented = System.Text.RegularExpressions.Regex.Matches(readme, "`(redis_[a-z0-9_]+)")
            .Select(m => m.Groups[1].Value)
            .Where(n => n != "redis_exporter")
            .Distinct()
            .ToList();
        Assert.All(documented, name => Assert.True(families.Contains(name), $"docs/metrics.md lists {name}, which the agent does not serve"));
        Assert.All(families, family => Assert.True(readme.Contains("`" + family, StringComparison.Ordinal) || readme.Contains(" " + family + ",", StringComparison.Ordinal) || readme.Contains(family + "`", StringComparison.Ordinal),
            $"docs/metrics.md does not list {family}"));
    }

    /// <summary>
    /// The table of INFO fields in docs/metrics.md is the code's map, row for row. To bring it up
    /// to date after changing the map, run this test with REDIS_AGENT_WRITE_DOCS=1.
    /// </summary>
    [Fact]
    public async Task The_INFO_table_is_the_codes_map()
    {
        var path = RepositoryFiles.Path("docs/metrics.md");
        var doc = await File.ReadAllTextAsync(path);
        const string Start = "<details>\n<summary>From <code>INFO</code>";
        const string End = "</details>";
        var from = doc.IndexOf(Start, StringComparison.Ordinal);
        Assert.True(from >= 0, "docs/metrics.md has no INFO table");
        var to = doc.IndexOf(End, from, StringComparison.Ordinal) + End.Length;

        var fields = RedisMetricMap.Fields.Concat(RedisMetricMap.StatusFields).ToList();
        var table = new StringBuilder();
        table.Append(CultureInfo.InvariantCulture, $"<details>\n<summary>From <code>INFO</code>, under redis_exporter's names ({fields.Count} metrics)</summary>\n\n");
        table.Append("| metric | type | INFO field | meaning |\n|---|---|---|---|\n");
        foreach (var field in fields)
        {
            var meaning = field.Help + (RedisMetricMap.StatusFields.Contains(field) ? " (`ok` 1, `err` 0)" : "");
            table.Append(CultureInfo.InvariantCulture, $"| `redis_{field.Name}` | {(field.IsCounter ? "counter" : "gauge")} | `{field.Field}` | {meaning} |\n");
        }

        table.Append("\n</details>");
        var expected = doc[..from] + table + doc[to..];
        if (Environment.GetEnvironmentVariable("REDIS_AGENT_WRITE_DOCS") == "1")
        {
            await File.WriteAllTextAsync(path, expected);
        }

        Assert.Equal(expected, doc);
    }
}
