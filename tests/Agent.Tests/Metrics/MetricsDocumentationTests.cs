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
            ["maxclients"] = "10000",
        };
        samples.Succeeded(new RedisSample(info, new RedisConfigValues(10000, 0, "noeviction", 300, ""), DateTimeOffset.UnixEpoch, TimeSpan.Zero));
        var metrics = new AgentMetrics(samples, new NodeStatus(), new ObservationBook(), new LogBus(Options.Create(new LogOptions())),
            Options.Create(new PlanOptions { Name = "premium-0" }), new FakeTimeProvider(), NullLogger<AgentMetrics>.Instance);
        using var stream = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(stream);
        var families = PromText.Types(Encoding.UTF8.GetString(stream.ToArray())).Keys
            .Concat(RedisMetricMap.Fields.Concat(RedisMetricMap.StatusFields).Select(f => "redis_" + f.Name))
            .Where(n => !n.StartsWith("process_", StringComparison.Ordinal) && !n.StartsWith("dotnet_", StringComparison.Ordinal))
            .Distinct()
            .ToList();

        Assert.True(families.Count > 100, $"only {families.Count} families rendered");
        Assert.All(families, family => Assert.True(readme.Contains("`" + family, StringComparison.Ordinal) || readme.Contains(" " + family + ",", StringComparison.Ordinal) || readme.Contains(family + "`", StringComparison.Ordinal),
            $"docs/metrics.md does not list {family}"));
    }
}
