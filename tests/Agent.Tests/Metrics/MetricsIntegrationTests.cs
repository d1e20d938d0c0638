using System.Globalization;
using System.Net;
using RedisAgent.Logs;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Metrics;

/// <summary>/metrics, /healthz, /readyz and the metrics log line, against a real redis-server.</summary>
public sealed class MetricsIntegrationTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Real_Redis_7_INFO_is_parsed_into_the_metrics()
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync();
        await using var client = await RespClient.ConnectAsync("127.0.0.1", agent.Port);
        foreach (var key in new[] { "a", "b", "c" })
        {
            await client.CommandAsync("SET", key, "value");
        }

        await client.CommandAsync("GET", "a");
        await client.CommandAsync("GET", "missing");

        var metrics = await ScrapeUntilAsync(agent, m => m.GetValueOrDefault("redis_db_keys{db=\"db0\"}") == 3, "db0 has 3 keys");
        var info = await client.InfoAsync();

        Assert.Equal(1, metrics["redis_up"]);
        Assert.Equal(double.Parse(info["maxclients"], CultureInfo.InvariantCulture), metrics["redis_config_maxclients"]);
        Assert.Equal(0, metrics["redis_memory_max_bytes"]);
        Assert.True(metrics["redis_commands_total{cmd=\"set\"}"] >= 3);
        Assert.True(metrics["redis_keyspace_hits_total"] >= 1);
        Assert.True(metrics["redis_keyspace_misses_total"] >= 1);
        Assert.Contains(metrics.Keys, k => k.StartsWith("redis_instance_info{role=\"master\",redis_version=\"" + info["redis_version"], StringComparison.Ordinal));
        Assert.Equal(1, metrics["redis_agent_config_available"]);
        Assert.Equal(1, metrics["redis_plan_info{plan=\"none\"}"]);
        // maxmemory 0 and no plan: no memory limit, so no ratio at all rather than NaN or +Inf.
        Assert.DoesNotContain("redis_plan_memory_used_ratio", metrics.Keys);
        Assert.DoesNotContain(metrics, m => double.IsNaN(m.Value) || double.IsInfinity(m.Value) && !m.Key.Contains("le=\"+Inf\"", StringComparison.Ordinal));
        Assert.True(metrics["redis_agent_sample_age_seconds"] < 5);
        var target = agent.Book.Targets.Keys.Single();
        Assert.True(metrics[$"redis_agent_probes_total{{target=\"{target}\",kind=\"port\",outcome=\"pong\"}}"] >= 1);
        Assert.True(metrics[$"redis_agent_probe_duration_seconds_count{{target=\"{target}\",kind=\"port\"}}"] >= 1);
        Assert.Equal(1, metrics[$"redis_agent_verdict{{target=\"{target}\",verdict=\"healthy\"}}"]);
        Assert.Equal(0, metrics[$"redis_agent_verdict{{target=\"{target}\",verdict=\"process_down\"}}"]);
        Assert.Equal(1, metrics["redis_agent_supervisor_phase{phase=\"watching\"}"]);
        // Redis's own start-up lines came through the agent's log pipeline.
        Assert.True(metrics["redis_agent_log_lines_total{source=\"redis\"}"] >= 1);
        // Issue 18: every configured database (16 by default) has its keys, 0 when INFO leaves it out as empty.
        Assert.Equal(0, metrics["redis_db_keys{db=\"db15\"}"]);
        Assert.Equal(0, metrics["redis_db_keys_expiring{db=\"db1\"}"]);
        Assert.Equal(16, metrics.Keys.Count(k => k.StartsWith("redis_db_keys{", StringComparison.Ordinal)));
        Assert.DoesNotContain(metrics.Keys, k => k.StartsWith("redis_db_keys{db=\"db16\"", StringComparison.Ordinal));

        // The exporter's fork duration, in seconds.
        await client.CommandAsync("BGSAVE");
        var forked = await ScrapeUntilAsync(agent, m => m.GetValueOrDefault("redis_latest_fork_seconds") > 0, "a fork's duration");
        Assert.True(forked["redis_latest_fork_seconds"] < 10, $"fork took {forked["redis_latest_fork_seconds"]} s");
        Assert.DoesNotContain(forked.Keys, k => k.StartsWith("redis_latest_fork_usec", StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_CONFIG_renamed_away_metrics_are_still_served_with_the_plans_limits()
    {
        await using var redis = await RedisServer.StartAsync(new RedisServerOptions { Arguments = ["--rename-command", "CONFIG", ""] });
        await using var agent = await AgentUnderTest.StartAsync(new Dictionary<string, string?>
        {
            ["Redis:Url"] = redis.Url,
            ["Restart:Driver"] = "none",
            ["Plan:Name"] = "premium-0",
        });

        var metrics = await ScrapeUntilAsync(agent, m => m.ContainsKey("redis_connected_clients") && m.GetValueOrDefault("redis_agent_config_available", 1) == 0,
            "a sample taken without CONFIG");

        Assert.Equal(1, metrics["redis_up"]);
        Assert.Equal(50 * 1024 * 1024, metrics["redis_plan_memory_limit_bytes"]);
        Assert.Equal(40, metrics["redis_plan_connections_limit"]);
        Assert.True(metrics["redis_plan_memory_used_ratio"] is > 0 and < 1);
        // Redis 7 reports maxclients in INFO, so it is known even without CONFIG; timeout is not.
        Assert.Equal(10000, metrics["redis_config_maxclients"]);
        Assert.DoesNotContain("redis_config_timeout_seconds", metrics.Keys);
        Assert.Single(agent.Logs.Entries, e => e.EventId == 1401);
        // The plan says 50 MB but Redis enforces nothing: the agent says so once.
        Assert.Single(agent.Logs.Entries, e => e.EventId == 1404);
    }

    [Fact]
    public async Task A_thousand_scrapes_open_no_connection_to_Redis()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var agent = await StartQuietAgentAsync(redis);
        await using var client = await RespClient.ConnectAsync(redis.Host, redis.Port);
        var connectionsBefore = long.Parse((await client.InfoAsync("stats"))["total_connections_received"], CultureInfo.InvariantCulture);
        var probesBefore = agent.Snapshot.Probes;
        var samplesBefore = agent.Samples.Samples;

        using var http = new HttpClient();
        for (var i = 0; i < 1000; i++)
        {
            using var response = await http.GetAsync(new Uri(agent.HttpAddress, "/metrics"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var connectionsAfter = long.Parse((await client.InfoAsync("stats"))["total_connections_received"], CultureInfo.InvariantCulture);
        Assert.Equal(agent.Snapshot.Probes - probesBefore, connectionsAfter - connectionsBefore);
        Assert.Equal(0, connectionsAfter - connectionsBefore);
        // Meanwhile the sampler kept sampling, over the connection it already had.
        Assert.True(agent.Samples.Samples > samplesBefore);
    }

    [Fact]
    public async Task The_sampler_holds_one_named_connection_and_is_not_counted_as_a_user()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var agent = await StartQuietAgentAsync(redis);
        await using var client = await RespClient.ConnectAsync(redis.Host, redis.Port);

        var clients = (await client.CommandAsync("CLIENT", "LIST")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, clients.Length);
        Assert.Single(clients, c => c.Contains(" name=redis-agent ", StringComparison.Ordinal));
        // Two connections (the agent's and this test's), one of them a user's.
        var metrics = await ScrapeUntilAsync(agent, m => m.GetValueOrDefault("redis_connected_clients") == 2, "the test's connection sampled");
        Assert.Equal(1, metrics["redis_active_connections"]);
    }

    [Fact]
    public async Task Healthz_answers_at_once_and_readyz_waits_for_a_first_sample()
    {
        var port = LoopbackPorts.Free();
        await using var agent = await AgentUnderTest.StartAsync(new Dictionary<string, string?>
        {
            ["Redis:Url"] = $"redis://127.0.0.1:{port}",
            ["Restart:Driver"] = "none",
        });

        var healthz = await agent.GetAsync("/healthz");
        Assert.Equal((HttpStatusCode.OK, "ok\n"), healthz);
        var readyz = await agent.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, readyz.Status);
        Assert.StartsWith("not ready: no sample of the node yet", readyz.Body, StringComparison.Ordinal);
        var metrics = await agent.ScrapeAsync();
        Assert.Equal(0, metrics["redis_up"]);

        await using var redis = await RedisServer.StartAsync(new RedisServerOptions { Arguments = [] }, port);
        await Poll.UntilAsync(async () => (await agent.GetAsync("/readyz")).Status == HttpStatusCode.OK, Deadline,
            () => "readyz after Redis came up: " + agent.GetAsync("/readyz").Result.Body);
        Assert.Equal(1, (await agent.ScrapeAsync())["redis_up"]);
    }

    [Fact]
    public async Task A_metrics_line_in_Herokus_form_goes_into_the_log_stream()
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Logs:Resource"] = "redis-metrics-42",
            ["Metrics:LogInterval"] = "00:00:00.200",
            ["Plan:Name"] = "mini",
        });

        await Poll.UntilAsync(() => agent.LogBus.History().Any(l => l.Text.StartsWith("source=REDIS", StringComparison.Ordinal)), Deadline, () => "a metrics line");

        var line = agent.LogBus.History().First(l => l.Text.StartsWith("source=REDIS", StringComparison.Ordinal));
        // Under a tag of its own that Redis's output never has (issue 18: a script's redis.log() could forge it).
        Assert.Equal(LogSource.Metrics, line.Source);
        Assert.Matches(
            @"^heroku-redis\[redis-metrics-42\]: source=REDIS addon=redis-metrics-42 sample#active-connections=\d+ sample#max-connections=20 " +
            @"sample#connection-percentage-used=[\d.]+ sample#load-avg-1m=[\d.]+ sample#load-avg-5m=[\d.]+ sample#load-avg-15m=[\d.]+ " +
            @"(sample#read-iops=[\d.]+ sample#write-iops=[\d.]+ )?sample#memory-total=\d+kB sample#memory-free=\d+kB sample#memory-cached=\d+kB " +
            @"sample#memory-redis=\d+bytes sample#memory-max=26214400bytes sample#memory-percentage-used=[\d.]+ (sample#hit-rate=[\d.]+ )?sample#evicted-keys=0$",
            line.Format("redis-metrics-42")[21..]);
        // From the second line on, the operations per second of the disk under Redis's dir (where
        // that directory is on a block device, as the agent's state directory is on these machines).
        await using var client = await RespClient.ConnectAsync("127.0.0.1", agent.Port);
        var dir = (await client.CommandAsync("CONFIG", "GET", "dir")).Split('\n')[1];
        if (RedisAgent.Metrics.HostStats.ReadDisk(dir) is not null)
        {
            await Poll.UntilAsync(() => agent.LogBus.History().Any(l => l.Source == LogSource.Metrics && l.Text.Contains(" sample#read-iops=", StringComparison.Ordinal)),
                Deadline, () => "a metrics line with iops:\n" + string.Join('\n', agent.LogBus.History().Where(l => l.Source == LogSource.Metrics).Select(l => l.Text)));
        }

        var tail = await agent.GetAsync("/logs?source=heroku-redis");
        Assert.Contains("heroku-redis[redis-metrics-42]: source=REDIS addon=redis-metrics-42 sample#active-connections=", tail.Body, StringComparison.Ordinal);
        Assert.DoesNotContain(" redis[redis-metrics-42]: source=REDIS", (await agent.GetAsync("/logs?source=redis")).Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_Redis_restart_takes_counters_down_without_new_series()
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync();
        await using (var client = await RespClient.ConnectAsync("127.0.0.1", agent.Port))
        {
            for (var i = 0; i < 5000; i++)
            {
                await client.SendAsync("PING");
            }

            for (var i = 0; i < 5000; i++)
            {
                await client.ReadReplyAsync();
            }
        }

        var before = await ScrapeUntilAsync(agent, m => m.GetValueOrDefault("redis_commands_processed_total") > 5000, "a sample after 5,000 PINGs");
        var pidBefore = before["redis_process_id"];

        Signals.Send((int)pidBefore, Signals.SigKill);
        var after = await ScrapeUntilAsync(agent, m => m.GetValueOrDefault("redis_process_id") is var pid && pid != 0 && pid != pidBefore && m["redis_up"] == 1,
            "a sample of the restarted server");

        // Unlabelled series and the instance's info are the same series as before; only values moved.
        static IEnumerable<string> Stable(IReadOnlyDictionary<string, double> m) =>
            m.Keys.Where(k => k.StartsWith("redis_", StringComparison.Ordinal) && !k.StartsWith("redis_agent_", StringComparison.Ordinal)
                && (!k.Contains('{', StringComparison.Ordinal) || k.StartsWith("redis_instance_info", StringComparison.Ordinal)));
        Assert.Equal(Stable(before).Order(), Stable(after).Order());
        // The counter went down with the server: Prometheus reads that as a reset, and rate() stays right.
        Assert.True(after["redis_commands_processed_total"] < 5000, $"commands processed after the restart: {after["redis_commands_processed_total"]}");
        Assert.Equal(1, after["redis_agent_restarts_total{reason=\"exited\"}"]);
    }

    /// <summary>An agent watching <paramref name="redis"/> that has sampled it and judged it healthy, and whose next port probe is an hour away.</summary>
    private static async Task<AgentUnderTest> StartQuietAgentAsync(RedisServer redis)
    {
        var agent = await AgentUnderTest.StartAsync(new Dictionary<string, string?>
        {
            ["Redis:Url"] = redis.Url,
            ["Restart:Driver"] = "none",
            // Port probes open a connection each; an hour apart, none falls inside the test.
            ["Probe:Interval"] = "01:00:00",
        });
        try
        {
            await ScrapeUntilAsync(agent, m => m.GetValueOrDefault("redis_up") == 1, "a first sample");
            await agent.WaitForAsync(s => s.Verdict == RedisAgent.Node.NodeVerdict.Healthy, Deadline, "the node judged healthy (the next probe is an hour away)");
            return agent;
        }
        catch
        {
            await agent.DisposeAsync();
            throw;
        }
    }

    [Fact]
    public async Task On_Redis_7_a_sample_costs_the_node_one_CONFIG_GET_not_one_per_setting()
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync();
        await using var client = await RespClient.ConnectAsync("127.0.0.1", agent.Port);
        var before = await ScrapeUntilAsync(agent, m => m.GetValueOrDefault("redis_agent_samples_total{result=\"ok\"}") >= 2, "two samples");
        var configCallsBefore = ConfigGets(await client.CommandAsync("INFO", "commandstats"));

        var after = await ScrapeUntilAsync(agent,
            m => m["redis_agent_samples_total{result=\"ok\"}"] >= before["redis_agent_samples_total{result=\"ok\"}"] + 5, "five more samples");
        var configCalls = ConfigGets(await client.CommandAsync("INFO", "commandstats")) - configCallsBefore;
        var samples = after["redis_agent_samples_total{result=\"ok\"}"] - before["redis_agent_samples_total{result=\"ok\"}"];

        // One a sample (two of slack for a sample in flight at either end), where there were eleven.
        Assert.InRange(configCalls, samples - 2, samples + 2);
        // And the settings are still read: maxclients, maxmemory-policy, the databases.
        Assert.True(after["redis_config_maxclients"] > 0);
        Assert.Equal(16, after.Keys.Count(k => k.StartsWith("redis_db_keys{", StringComparison.Ordinal)));

        static double ConfigGets(string commandStats) =>
            commandStats.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("cmdstat_config|get:", StringComparison.Ordinal))
                .Select(l => double.Parse(l.Split(',')[0].Split('=')[1], CultureInfo.InvariantCulture)).SingleOrDefault();
    }

    [Fact]
    public async Task A_node_that_refuses_SLOWLOG_is_asked_once_and_the_rest_is_served()
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Exec:Arguments:0"] = "--rename-command", ["Exec:Arguments:1"] = "SLOWLOG", ["Exec:Arguments:2"] = "",
        });
        await Poll.UntilAsync(() => agent.Logs.Contains(1406), Deadline, () => agent.Logs.Text);
        var before = await ScrapeUntilAsync(agent, m => m.GetValueOrDefault("redis_agent_samples_total{result=\"ok\"}") >= 2, "samples");
        var after = await ScrapeUntilAsync(agent,
            m => m["redis_agent_samples_total{result=\"ok\"}"] >= before["redis_agent_samples_total{result=\"ok\"}"] + 3, "three more samples");

        Assert.Equal(1, after["redis_up"]);
        Assert.DoesNotContain("redis_slowlog_length", after.Keys);
        Assert.True(after["redis_config_maxclients"] > 0);
        Assert.Equal(after.GetValueOrDefault("redis_errors_total{err=\"ERR\"}"), before.GetValueOrDefault("redis_errors_total{err=\"ERR\"}"));
        Assert.Single(agent.Logs.Text.Split('\n'), l => l.Contains("[1406]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_cluster_node_that_refuses_the_script_is_asked_once_and_the_rest_is_served()
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Exec:Arguments:0"] = "--cluster-enabled", ["Exec:Arguments:1"] = "yes",
            ["Exec:Arguments:2"] = "--rename-command", ["Exec:Arguments:3"] = "EVAL", ["Exec:Arguments:4"] = "",
            ["Exec:Arguments:5"] = "--cluster-port", ["Exec:Arguments:6"] = ClusterBusPort(),
        });
        await Poll.UntilAsync(() => agent.Logs.Contains(1407), Deadline, () => agent.Logs.Text);
        var before = await ScrapeUntilAsync(agent, m => m.GetValueOrDefault("redis_agent_samples_total{result=\"ok\"}") >= 2, "samples");
        var after = await ScrapeUntilAsync(agent,
            m => m["redis_agent_samples_total{result=\"ok\"}"] >= before["redis_agent_samples_total{result=\"ok\"}"] + 3, "three more samples");

        Assert.Equal(1, after["redis_cluster_enabled"]);
        Assert.DoesNotContain("redis_cluster_state", after.Keys);
        Assert.Equal(1, after["redis_up"]);
        // Refused once, not once a sample: the node's error statistics are its users'.
        Assert.Equal(after.GetValueOrDefault("redis_errors_total{err=\"ERR\"}"), before.GetValueOrDefault("redis_errors_total{err=\"ERR\"}"));
        Assert.Single(agent.Logs.Text.Split('\n'), l => l.Contains("[1407]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_cluster_mode_node_in_fail_state_exports_the_cluster_slow_log_and_latency_families()
    {
        // A cluster-enabled node with no slots assigned: cluster_state:fail, what the mixin's
        // RedisClusterStateNotOk alert is written for. Every command goes to the slow log.
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Exec:Arguments:0"] = "--cluster-enabled", ["Exec:Arguments:1"] = "yes",
            ["Exec:Arguments:2"] = "--slowlog-log-slower-than", ["Exec:Arguments:3"] = "0",
            ["Exec:Arguments:4"] = "--cluster-port", ["Exec:Arguments:5"] = ClusterBusPort(),
        });
        await using var client = await RespClient.ConnectAsync("127.0.0.1", agent.Port);
        await client.CommandAsync("PING");

        var metrics = await ScrapeUntilAsync(agent,
            m => m.ContainsKey("redis_cluster_state") && m.GetValueOrDefault("redis_slowlog_length") > 0
                && m.ContainsKey("redis_latency_percentiles_usec_count{cmd=\"ping\"}"),
            "the cluster, slow log and latency families");

        Assert.Equal(1, metrics["redis_cluster_enabled"]);
        Assert.Equal(0, metrics["redis_cluster_state"]);
        Assert.Equal(0, metrics["redis_cluster_slots_assigned"]);
        Assert.Equal(0, metrics["redis_cluster_slots_fail"]);
        Assert.Equal(0, metrics["redis_cluster_slots_pfail"]);
        Assert.Equal(1, metrics["redis_cluster_known_nodes"]);
        Assert.Contains("redis_cluster_messages_sent_total", metrics.Keys);
        Assert.Contains("redis_cluster_current_epoch", metrics.Keys);
        Assert.True(metrics["redis_slowlog_last_id"] >= 0);
        Assert.True(metrics["redis_last_slow_execution_duration_seconds"] is >= 0 and < 10);
        Assert.True(metrics["redis_latency_percentiles_usec_count{cmd=\"ping\"}"] >= 1);
        Assert.True(metrics["redis_latency_percentiles_usec{cmd=\"ping\",quantile=\"99\"}"] >= 0);
        var scrape = (await agent.GetAsync("/metrics")).Body;
        Assert.Contains("# TYPE redis_latency_percentiles_usec summary", scrape, StringComparison.Ordinal);
    }

    /// <summary>A cluster node's bus port, given like its own: by default Redis takes its port + 10,000, which nothing reserved.</summary>
    private static string ClusterBusPort() => LoopbackPorts.Free().ToString(CultureInfo.InvariantCulture);

    private static async Task<IReadOnlyDictionary<string, double>> ScrapeUntilAsync(
        AgentUnderTest agent, Func<IReadOnlyDictionary<string, double>, bool> condition, string what)
    {
        IReadOnlyDictionary<string, double> last = new Dictionary<string, double>();
        await Poll.UntilAsync(async () => condition(last = await agent.ScrapeAsync()), Deadline,
            () => $"{what}\nLast scrape:\n{string.Join('\n', last.Where(m => !m.Key.StartsWith("dotnet", StringComparison.Ordinal)).Select(m => $"{m.Key} {m.Value}"))}\nAgent log:\n{agent.Logs.Text}");
        return last;
    }
}
