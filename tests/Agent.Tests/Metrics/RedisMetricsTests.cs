using Prometheus;
using RedisAgent.Metrics;
using RedisAgent.Sampling;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Metrics;

/// <summary>INFO text to metrics, through prometheus-net's own exposition, without a server.</summary>
public sealed class RedisMetricsTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public async Task An_older_INFO_format_maps_to_the_exporters_names()
    {
        var metrics = await ExposeAsync(OldSample(), plan: null);

        Assert.Equal(12, metrics["redis_connected_clients"]);
        Assert.Equal(26214400, metrics["redis_memory_used_bytes"]);
        Assert.Equal(0, metrics["redis_memory_max_bytes"]);
        Assert.Equal(0, metrics["redis_client_longest_output_list"]);
        Assert.Equal(5, metrics["redis_evicted_keys_total"]);
        Assert.Equal(300, metrics["redis_keyspace_hits_total"]);
        Assert.Equal(100, metrics["redis_keyspace_misses_total"]);
        Assert.Equal(3, metrics["redis_rejected_connections_total"]);
        Assert.Equal(1, metrics["redis_connected_slaves"]);
        Assert.Equal(123470, metrics["redis_master_repl_offset"]);
        Assert.Equal(120.5, metrics["redis_cpu_sys_seconds_total"]);
        Assert.Equal(1, metrics["redis_rdb_last_bgsave_status"]);
        Assert.Equal(0, metrics["redis_aof_last_write_status"]);
        Assert.Equal(123456, metrics["redis_connected_slave_offset_bytes{slave_ip=\"127.0.0.12\",slave_port=\"6379\",slave_state=\"online\"}"]);
        Assert.Equal(1, metrics["redis_connected_slave_lag_seconds{slave_ip=\"127.0.0.12\",slave_port=\"6379\",slave_state=\"online\"}"]);
        Assert.Equal(1000, metrics["redis_db_keys{db=\"db0\"}"]);
        Assert.Equal(10, metrics["redis_db_keys_expiring{db=\"db0\"}"]);
        Assert.Equal(5, metrics["redis_db_avg_ttl_seconds{db=\"db0\"}"]);
        Assert.Equal(7, metrics["redis_db_keys{db=\"db3\"}"]);
        Assert.Equal(400, metrics["redis_commands_total{cmd=\"get\"}"]);
        Assert.Equal(0.001, metrics["redis_commands_duration_seconds_total{cmd=\"set\"}"], 9);
        Assert.Equal(1, metrics[
            "redis_instance_info{role=\"master\",redis_version=\"3.2.12\",redis_build_id=\"3dc3425a3049d2ef\",redis_mode=\"standalone\",os=\"Linux 4.9.0-8-amd64 x86_64\",maxmemory_policy=\"noeviction\",tcp_port=\"6379\"}"]);
        // Redis 3.2 has no maxclients in INFO and this sample no CONFIG: no limit is made up.
        Assert.DoesNotContain("redis_config_maxclients", metrics.Keys);
        Assert.DoesNotContain("redis_plan_connections_limit", metrics.Keys);
        Assert.DoesNotContain("redis_plan_memory_used_ratio", metrics.Keys);
        Assert.DoesNotContain(metrics, m => !double.IsFinite(m.Value));
    }

    [Fact]
    public async Task Types_follow_the_exporter_and_help_says_the_values_are_sampled()
    {
        var (_, text) = await ExposeTextAsync(OldSample(), plan: null);
        var types = PromText.Types(text);
        var help = PromText.Help(text);

        Assert.Equal("counter", types["redis_evicted_keys_total"]);
        Assert.Equal("counter", types["redis_keyspace_hits_total"]);
        Assert.Equal("counter", types["redis_commands_total"]);
        Assert.Equal("gauge", types["redis_connected_clients"]);
        Assert.Equal("gauge", types["redis_memory_used_bytes"]);
        Assert.Equal("gauge", types["redis_instance_info"]);
        Assert.All(help.Where(h => h.Key.StartsWith("redis_", StringComparison.Ordinal) && h.Key != "redis_plan_info" && h.Key != "redis_instance_info"),
            h => Assert.Contains("sampled", h.Value, StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_a_plan_the_limits_and_ratios_are_the_plans()
    {
        var plan = Plans.Find("premium-0", new Dictionary<string, CustomPlanOptions>());

        var metrics = await ExposeAsync(OldSample(), plan);

        Assert.Equal(1, metrics["redis_plan_info{plan=\"premium-0\"}"]);
        Assert.Equal(50 * MiB, metrics["redis_plan_memory_limit_bytes"]);
        Assert.Equal(40, metrics["redis_plan_connections_limit"]);
        Assert.Equal(0.5, metrics["redis_plan_memory_used_ratio"]);
        Assert.Equal(11 / 40.0, metrics["redis_plan_connections_used_ratio"]);
        Assert.Equal(11, metrics["redis_active_connections"]);
    }

    [Fact]
    public async Task No_series_carries_the_run_id_or_the_pid_as_a_label()
    {
        var (_, text) = await ExposeTextAsync(OldSample(), plan: null);

        Assert.DoesNotContain("run_id", text, StringComparison.Ordinal);
        Assert.DoesNotContain("f5c8b8f8a5b7d4f1e0a1c2d3e4f5a6b7c8d9e0f1", text, StringComparison.Ordinal);
        Assert.DoesNotContain("process_id=", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_restarted_server_takes_its_counters_down_and_keeps_its_series()
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var metrics = new RedisMetrics(Prometheus.Metrics.WithCustomRegistry(registry));
        var before = OldSample();
        metrics.Apply(before, plan: null);
        var seriesBefore = (await ExportAsync(registry)).Keys.Where(k => !k.StartsWith("redis_db_", StringComparison.Ordinal)).ToHashSet();

        // A restart: new pid, new run id, counters from zero, db3 gone.
        var fields = new Dictionary<string, string>(before.Info)
        {
            ["process_id"] = "999",
            ["run_id"] = "0000000000000000000000000000000000000000",
            ["evicted_keys"] = "2",
            ["keyspace_hits"] = "1",
            ["uptime_in_seconds"] = "3",
        };
        fields.Remove("db3");
        metrics.Apply(before with { Info = fields }, plan: null);
        var after = await ExportAsync(registry);

        Assert.Equal(2, after["redis_evicted_keys_total"]);
        Assert.Equal(1, after["redis_keyspace_hits_total"]);
        Assert.Subset(after.Keys.ToHashSet(), seriesBefore);
        Assert.DoesNotContain("redis_db_keys{db=\"db3\"}", after.Keys);
        Assert.Contains("redis_db_keys{db=\"db0\"}", after.Keys);
    }

    [Fact]
    public async Task A_field_the_server_stops_reporting_stops_being_exported()
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var metrics = new RedisMetrics(Prometheus.Metrics.WithCustomRegistry(registry));
        metrics.Apply(OldSample(), plan: null);
        var fields = new Dictionary<string, string>(OldSample().Info);
        fields.Remove("client_longest_output_list");
        fields.Remove("slave0");
        fields["connected_slaves"] = "0";

        metrics.Apply(OldSample() with { Info = fields }, plan: null);
        var after = await ExportAsync(registry);

        Assert.DoesNotContain("redis_client_longest_output_list", after.Keys);
        Assert.DoesNotContain(after.Keys, k => k.StartsWith("redis_connected_slave_offset_bytes", StringComparison.Ordinal));
        Assert.Equal(0, after["redis_connected_slaves"]);
    }

    [Fact]
    public async Task A_replica_exports_its_link_to_the_primary()
    {
        var info = new Dictionary<string, string>
        {
            ["role"] = "slave", ["master_host"] = "127.0.0.11", ["master_port"] = "6379", ["master_link_status"] = "down",
            ["master_last_io_seconds_ago"] = "-1", ["master_sync_in_progress"] = "1", ["slave_repl_offset"] = "4242",
        };

        var metrics = await ExposeAsync(new RedisSample(info, null, DateTimeOffset.UnixEpoch, TimeSpan.Zero), plan: null);

        Assert.Equal(0, metrics["redis_master_link_up{master_host=\"127.0.0.11\",master_port=\"6379\"}"]);
        Assert.Equal(1, metrics["redis_master_sync_in_progress{master_host=\"127.0.0.11\",master_port=\"6379\"}"]);
        Assert.Equal(4242, metrics["redis_slave_repl_offset{master_host=\"127.0.0.11\",master_port=\"6379\"}"]);
    }

    [Fact]
    public void Composite_values_split_into_fields_including_Redis_2_replicas_by_position()
    {
        Assert.Equal("1000", InfoParser.ParseFields("keys=1000,expires=10,avg_ttl=5000")["keys"]);
        var old = InfoParser.ParseFields("127.0.0.12,6380,online");
        Assert.Equal(("127.0.0.12", "6380", "online"), (old["0"], old["1"], old["2"]));
    }

    internal static RedisSample OldSample() => new(
        InfoParser.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Metrics", "Fixtures", "info-redis-3.2.txt"))),
        null,
        DateTimeOffset.FromUnixTimeSeconds(1_700_000_000),
        TimeSpan.FromMilliseconds(1));

    private static async Task<IReadOnlyDictionary<string, double>> ExposeAsync(RedisSample sample, Plan? plan) =>
        (await ExposeTextAsync(sample, plan)).Metrics;

    private static async Task<(IReadOnlyDictionary<string, double> Metrics, string Text)> ExposeTextAsync(RedisSample sample, Plan? plan)
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        new RedisMetrics(Prometheus.Metrics.WithCustomRegistry(registry)).Apply(sample, plan);
        var text = await ExportTextAsync(registry);
        return (PromText.Parse(text), text);
    }

    private static async Task<IReadOnlyDictionary<string, double>> ExportAsync(CollectorRegistry registry) => PromText.Parse(await ExportTextAsync(registry));

    private static async Task<string> ExportTextAsync(CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
