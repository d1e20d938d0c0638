using RedisAgent.Metrics;
using RedisAgent.Sampling;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Metrics;

/// <summary>
/// Issue 18: the families redis_exporter's current release has beyond 1.45, under its names and
/// types: its INFO maps (vendored from its source, Fixtures/redis_exporter), CLUSTER INFO, the
/// slow log, the replica's info and Redis 7's latency summaries.
/// </summary>
public sealed class ExporterFamiliesTests
{
    /// <summary>Module and fork fields (RediSearch, Tile38, KeyDB): not Redis's own INFO.</summary>
    private static readonly string[] NotRedis = ["search_", "tile38_", "bf_", "json_", "storage_provider", "cached_keys", "server_threads", "long_lock_waits", "current_client_thread"];

    [Fact]
    public void Every_INFO_field_the_current_exporter_maps_is_exported_under_its_name_and_type()
    {
        var exporter = File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Metrics", "Fixtures", "redis_exporter", "info-fields.tsv"))
            .Where(line => !line.StartsWith('#') && line.Length > 0)
            .Select(line => line.Split('\t'))
            .Where(row => !NotRedis.Any(prefix => row[0].StartsWith(prefix, StringComparison.Ordinal)))
            // CLUSTER INFO's fields, not INFO's: Cluster_info_fields_are_the_exporters.
            .Where(row => !row[0].StartsWith("cluster_stats_", StringComparison.Ordinal))
            // The exporter renames this one when it registers it, and scales it to seconds.
            .Select(row => row[0] == "latest_fork_usec" ? [row[0], "latest_fork_seconds", row[2]] : row)
            .ToList();
        var ours = RedisMetricMap.Fields.Concat(RedisMetricMap.StatusFields).ToDictionary(f => f.Field);

        Assert.True(exporter.Count > 150, $"{exporter.Count} fields read");
        Assert.All(exporter, row =>
        {
            Assert.True(ours.TryGetValue(row[0], out var map), $"INFO {row[0]} (the exporter's redis_{row[1]}) is not exported");
            Assert.Equal(row[1], map!.Name);
            Assert.Equal(row[2], map.IsCounter ? "counter" : "gauge");
        });
    }

    [Fact]
    public async Task Cluster_info_fields_are_the_exporters()
    {
        var cluster = InfoParser.Parse(
            "cluster_state:fail\r\ncluster_slots_assigned:0\r\ncluster_slots_ok:0\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\n" +
            "cluster_known_nodes:1\r\ncluster_size:0\r\ncluster_current_epoch:0\r\ncluster_my_epoch:0\r\n" +
            "cluster_stats_messages_sent:7\r\ncluster_stats_messages_received:5\r\ncluster_stats_messages_auth-req_sent:2\r\n" +
            "total_cluster_links_buffer_limit_exceeded:0\r\n");
        var sample = Sample(new Dictionary<string, string> { ["cluster_enabled"] = "1" }) with { Cluster = cluster };

        var metrics = await ExposeAsync(sample);

        Assert.Equal(0, metrics["redis_cluster_state"]);
        Assert.Equal(1, metrics["redis_cluster_enabled"]);
        Assert.Equal(0, metrics["redis_cluster_slots_fail"]);
        Assert.Equal(1, metrics["redis_cluster_known_nodes"]);
        Assert.Equal(7, metrics["redis_cluster_messages_sent_total"]);
        Assert.Equal(5, metrics["redis_cluster_messages_received_total"]);
        Assert.Equal(2, metrics["redis_cluster_stats_messages_auth_req_sent"]);
        // The exporter takes cluster_* fields only.
        Assert.DoesNotContain(metrics.Keys, k => k.Contains("links_buffer", StringComparison.Ordinal));

        var ok = await ExposeAsync(sample with { Cluster = InfoParser.Parse("cluster_state:ok\r\n") });
        Assert.Equal(1, ok["redis_cluster_state"]);
    }

    [Fact]
    public async Task A_hostile_cluster_info_makes_a_bounded_number_of_families()
    {
        var fields = Enumerable.Range(0, 1000).ToDictionary(i => $"cluster_x{i}", i => "1");
        fields["cluster_\"}\n# evil"] = "1";
        var metrics = await ExposeAsync(Sample(new Dictionary<string, string>()) with { Cluster = fields });

        Assert.Equal(RedisMetrics.MaxClusterFields, metrics.Keys.Count(k => k.StartsWith("redis_cluster_", StringComparison.Ordinal)));
        Assert.Equal("redis_cluster_" + new string('_', 5) + "evil", RedisMetrics.ClusterName("cluster_\"}\n# evil"));
        Assert.Null(RedisMetrics.ClusterName("total_cluster_links_buffer_limit_exceeded"));
    }

    [Fact]
    public async Task The_slow_log_and_a_replicas_info_are_exported()
    {
        var replica = Sample(new Dictionary<string, string>
        {
            ["role"] = "slave", ["master_host"] = "127.0.0.11", ["master_port"] = "6379", ["slave_read_only"] = "1", ["master_link_status"] = "up",
        }) with { Slowlog = new SlowlogValues(3, 41, TimeSpan.FromMilliseconds(12.5)) };

        var metrics = await ExposeAsync(replica);

        Assert.Equal(1, metrics["redis_slave_info{master_host=\"127.0.0.11\",master_port=\"6379\",read_only=\"1\"}"]);
        Assert.Equal(3, metrics["redis_slowlog_length"]);
        Assert.Equal(41, metrics["redis_slowlog_last_id"]);
        Assert.Equal(0.0125, metrics["redis_last_slow_execution_duration_seconds"], 9);

        var primary = await ExposeAsync(Sample(new Dictionary<string, string> { ["role"] = "master" }) with { Slowlog = new SlowlogValues(0, 0, TimeSpan.Zero) });
        Assert.DoesNotContain(primary.Keys, k => k.StartsWith("redis_slave_info", StringComparison.Ordinal));
        Assert.Equal(0, primary["redis_slowlog_last_id"]);
    }

    [Fact]
    public async Task Each_IO_threads_active_time_is_the_exporters_labelled_counter()
    {
        var metrics = await ExposeAsync(Sample(new Dictionary<string, string>
        {
            ["used_active_time_io_thread_0"] = "12.5", ["used_active_time_io_thread_1"] = "3", ["used_active_time_io_thread_x"] = "9",
        }));

        Assert.Equal(12.5, metrics["redis_active_time_io_thread_seconds_total{thread=\"0\"}"]);
        Assert.Equal(3, metrics["redis_active_time_io_thread_seconds_total{thread=\"1\"}"]);
        Assert.Equal(2, metrics.Keys.Count(k => k.StartsWith("redis_active_time_io_thread", StringComparison.Ordinal)));
    }

    [Fact]
    public void Latency_percentiles_are_the_exporters_summary()
    {
        var sample = Sample(new Dictionary<string, string>
        {
            ["cmdstat_get"] = "calls=10,usec=25,usec_per_call=2.50,rejected_calls=0,failed_calls=0",
            ["cmdstat_config|get"] = "calls=2,usec=16,usec_per_call=8.00,rejected_calls=0,failed_calls=0",
            ["latency_percentiles_usec_get"] = "p50=1.003,p99=4.015,p99.9=4.015",
            ["latency_percentiles_usec_config|get"] = "p50=8.031,p99=27.007,p99.9=27.007",
            // No commandstats for it: the exporter leaves it out, and so do we.
            ["latency_percentiles_usec_set"] = "p50=1.003",
        });

        var text = LatencySummaries.Render(sample);
        var metrics = PromText.Parse(text);

        Assert.Equal("summary", PromText.Types(text)["redis_latency_percentiles_usec"]);
        Assert.Equal(1.003, metrics["redis_latency_percentiles_usec{cmd=\"get\",quantile=\"50\"}"]);
        Assert.Equal(4.015, metrics["redis_latency_percentiles_usec{cmd=\"get\",quantile=\"99.9\"}"]);
        Assert.Equal(25, metrics["redis_latency_percentiles_usec_sum{cmd=\"get\"}"]);
        Assert.Equal(10, metrics["redis_latency_percentiles_usec_count{cmd=\"get\"}"]);
        Assert.Equal(27.007, metrics["redis_latency_percentiles_usec{cmd=\"config|get\",quantile=\"99\"}"]);
        Assert.DoesNotContain(metrics.Keys, k => k.Contains("cmd=\"set\"", StringComparison.Ordinal));
        Assert.Equal("", LatencySummaries.Render(Sample(new Dictionary<string, string> { ["cmdstat_get"] = "calls=1,usec=1" })));
    }

    private static RedisSample Sample(Dictionary<string, string> info) => new(info, null, DateTimeOffset.UnixEpoch, TimeSpan.Zero);

    private static async Task<IReadOnlyDictionary<string, double>> ExposeAsync(RedisSample sample)
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        new RedisMetrics(Prometheus.Metrics.WithCustomRegistry(registry)).Apply(sample, plan: null);
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        return PromText.Parse(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
