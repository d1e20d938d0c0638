using System.Globalization;
using Prometheus;
using RedisAgent.Sampling;

namespace RedisAgent.Metrics;

/// <summary>
/// The node's metrics as of the last sample: redis_exporter's names and types for what it also
/// exports, and the plan's limits and ratios. Applied once per new sample, never per scrape.
/// No label carries the run id or the pid, so no series is reborn when Redis restarts.
/// </summary>
internal sealed class RedisMetrics
{
    private const string Sampled = " (sampled; see redis_agent_sample_age_seconds)";

    private readonly SampledSeries _series = new();
    private readonly List<(InfoMetric Map, Collector Collector)> _fields = [];
    private readonly List<(InfoMetric Map, Gauge Gauge)> _statusFields = [];
    private readonly Gauge _instanceInfo;
    private readonly Gauge _startTime;
    private readonly Gauge _configMaxClients;
    private readonly Gauge _configMaxMemory;
    private readonly Gauge _configTimeout;
    private readonly Gauge _masterLinkUp;
    private readonly Gauge _masterLastIo;
    private readonly Gauge _masterSyncInProgress;
    private readonly Gauge _slaveReplOffset;
    private readonly Gauge _replicaOffset;
    private readonly Gauge _replicaLag;
    private readonly Gauge _dbKeys;
    private readonly Gauge _dbKeysExpiring;
    private readonly Gauge _dbAvgTtl;
    private readonly Counter _commands;
    private readonly Counter _commandsDuration;
    private readonly Counter _commandsRejected;
    private readonly Counter _commandsFailed;
    private readonly Counter _errors;
    private readonly Counter _ioThreadActiveTime;
    private readonly Gauge _planInfo;
    private readonly Gauge _planMemoryLimit;
    private readonly Gauge _planConnectionsLimit;
    private readonly Gauge _planMemoryRatio;
    private readonly Gauge _planConnectionsRatio;
    private readonly Gauge _activeConnections;
    private readonly Gauge _slaveInfo;
    private readonly Gauge _slowlogLength;
    private readonly Gauge _slowlogLastId;
    private readonly Gauge _lastSlowDuration;
    private readonly IMetricFactory _factory;
    private readonly Dictionary<string, Gauge> _cluster = new(StringComparer.Ordinal);

    /// <summary>The most CLUSTER INFO fields made into families: a bound for a server that sends thousands.</summary>
    internal const int MaxClusterFields = 64;

    public RedisMetrics(IMetricFactory factory)
    {
        _factory = factory;
        var quiet = new GaugeConfiguration { SuppressInitialValue = true };
        foreach (var map in RedisMetricMap.Fields)
        {
            var help = $"{map.Help}: INFO {map.Field}{Sampled}";
            _fields.Add((map, map.IsCounter
                ? factory.CreateCounter("redis_" + map.Name, help, new CounterConfiguration { SuppressInitialValue = true })
                : factory.CreateGauge("redis_" + map.Name, help, quiet)));
        }

        foreach (var map in RedisMetricMap.StatusFields)
        {
            _statusFields.Add((map, factory.CreateGauge("redis_" + map.Name, $"{map.Help}: INFO {map.Field}{Sampled}", quiet)));
        }

        Gauge Labelled(string name, string help, params string[] labels) =>
            factory.CreateGauge(name, help + Sampled, new GaugeConfiguration { LabelNames = labels, SuppressInitialValue = true });
        Counter LabelledCounter(string name, string help, params string[] labels) =>
            factory.CreateCounter(name, help + Sampled, new CounterConfiguration { LabelNames = labels, SuppressInitialValue = true });

        _instanceInfo = Labelled("redis_instance_info", "Information about the Redis instance, always 1",
            "role", "redis_version", "redis_build_id", "redis_mode", "os", "maxmemory_policy", "tcp_port");
        _startTime = factory.CreateGauge("redis_start_time_seconds", "Unix time the server started" + Sampled, quiet);
        _configMaxClients = factory.CreateGauge("redis_config_maxclients", "maxclients, from CONFIG GET (INFO when CONFIG is unavailable)" + Sampled, quiet);
        _configMaxMemory = factory.CreateGauge("redis_config_maxmemory", "maxmemory in bytes, from CONFIG GET (INFO when CONFIG is unavailable)" + Sampled, quiet);
        _configTimeout = factory.CreateGauge("redis_config_timeout_seconds", "timeout (idle clients are closed after it; 0: never), from CONFIG GET" + Sampled, quiet);
        _masterLinkUp = Labelled("redis_master_link_up", "1 when this replica's link to its primary is up", "master_host", "master_port");
        _masterLastIo = Labelled("redis_master_last_io_seconds_ago", "Seconds since this replica last heard from its primary", "master_host", "master_port");
        _masterSyncInProgress = Labelled("redis_master_sync_in_progress", "1 while this replica syncs from its primary", "master_host", "master_port");
        _slaveReplOffset = Labelled("redis_slave_repl_offset", "This replica's replication offset", "master_host", "master_port");
        _replicaOffset = Labelled("redis_connected_slave_offset_bytes", "A connected replica's acknowledged offset", "slave_ip", "slave_port", "slave_state");
        _replicaLag = Labelled("redis_connected_slave_lag_seconds", "Seconds since a connected replica last acknowledged", "slave_ip", "slave_port", "slave_state");
        _dbKeys = Labelled("redis_db_keys", "Keys in a database", "db");
        _dbKeysExpiring = Labelled("redis_db_keys_expiring", "Keys with an expiry in a database", "db");
        _dbAvgTtl = Labelled("redis_db_avg_ttl_seconds", "Average time to live of expiring keys in a database", "db");
        _commands = LabelledCounter("redis_commands_total", "Calls per command", "cmd");
        _commandsDuration = LabelledCounter("redis_commands_duration_seconds_total", "Time spent per command", "cmd");
        _commandsRejected = LabelledCounter("redis_commands_rejected_calls_total", "Calls rejected before running, per command", "cmd");
        _commandsFailed = LabelledCounter("redis_commands_failed_calls_total", "Calls that failed while running, per command", "cmd");
        _errors = LabelledCounter("redis_errors_total", "Error replies per error prefix", "err");
        _ioThreadActiveTime = LabelledCounter("redis_active_time_io_thread_seconds_total", "Active time of each I/O thread as INFO gives it (Redis 8: used_active_time_io_thread_N)", "thread");
        _planInfo = Labelled("redis_plan_info", "The plan this node's limits come from, always 1 (plan=\"none\": Redis's own maxmemory and maxclients)", "plan");
        _planMemoryLimit = factory.CreateGauge("redis_plan_memory_limit_bytes", "Memory the plan allows (maxmemory without a plan; absent when neither limits it)" + Sampled, quiet);
        _planConnectionsLimit = factory.CreateGauge("redis_plan_connections_limit", "Client connections the plan allows (maxclients without a plan)" + Sampled, quiet);
        _planMemoryRatio = factory.CreateGauge("redis_plan_memory_used_ratio", "used_memory / redis_plan_memory_limit_bytes (absent without a limit)" + Sampled, quiet);
        _planConnectionsRatio = factory.CreateGauge("redis_plan_connections_used_ratio", "redis_active_connections / redis_plan_connections_limit" + Sampled, quiet);
        _slaveInfo = Labelled("redis_slave_info", "Information about this replica, always 1", "master_host", "master_port", "read_only");
        _slowlogLength = factory.CreateGauge("redis_slowlog_length", "Entries in the slow log: SLOWLOG LEN" + Sampled, quiet);
        _slowlogLastId = factory.CreateGauge("redis_slowlog_last_id", "Id of the newest slow log entry (0: none)" + Sampled, quiet);
        _lastSlowDuration = factory.CreateGauge("redis_last_slow_execution_duration_seconds", "Duration of the newest slow log entry (0: none)" + Sampled, quiet);
        _activeConnections = factory.CreateGauge("redis_active_connections", "connected_clients less the agent's own sampling connection" + Sampled, quiet);
    }

    public void Apply(RedisSample sample, Plan? plan)
    {
        foreach (var (map, collector) in _fields)
        {
            if (sample.Double(map.Field) is { } value)
            {
                if (collector is Counter counter)
                {
                    _series.Set(counter, value * map.Scale);
                }
                else
                {
                    _series.Set((Gauge)collector, value * map.Scale);
                }
            }
        }

        foreach (var (map, gauge) in _statusFields)
        {
            if (sample.Info.TryGetValue(map.Field, out var status))
            {
                _series.Set(gauge, status == "ok" ? 1 : 0);
            }
        }

        var info = sample.Info;
        _series.Set(_instanceInfo, 1,
            info.GetValueOrDefault("role", ""), info.GetValueOrDefault("redis_version", ""), info.GetValueOrDefault("redis_build_id", ""),
            info.GetValueOrDefault("redis_mode", ""), info.GetValueOrDefault("os", ""), sample.MaxMemoryPolicy ?? "", info.GetValueOrDefault("tcp_port", ""));
        if (sample.Long("uptime_in_seconds") is { } uptime)
        {
            _series.Set(_startTime, sample.At.ToUnixTimeSeconds() - uptime);
        }

        SetIf(_configMaxClients, sample.MaxClients);
        SetIf(_configMaxMemory, sample.MaxMemory);
        SetIf(_configTimeout, sample.Config?.Timeout);
        ApplyReplication(sample);
        ApplyComposites(sample);
        ApplySlowlog(sample.Slowlog);
        ApplyCluster(sample.Cluster);
        ApplyPlan(PlanUsage.Compute(plan, sample));
        _series.EndRound();
    }

    /// <summary>
    /// Redis is down (its last sample failed): every sampled series goes, as redis_exporter drops
    /// them, so panels show a gap rather than the last values frozen; the plan's own (its name and
    /// limits, which no sample gives) stay. The next successful sample sets them all again.
    /// </summary>
    public void Withdraw(Plan? plan)
    {
        if (plan is not null)
        {
            _series.Set(_planInfo, 1, plan.Name);
            _series.Set(_planMemoryLimit, plan.MemoryBytes);
            _series.Set(_planConnectionsLimit, plan.Connections);
        }

        _series.EndRound();
    }

    private void ApplyReplication(RedisSample sample)
    {
        var info = sample.Info;
        if (info.GetValueOrDefault("role") == "slave")
        {
            string[] master = [info.GetValueOrDefault("master_host", ""), info.GetValueOrDefault("master_port", "")];
            _series.Set(_masterLinkUp, info.GetValueOrDefault("master_link_status") == "up" ? 1 : 0, master);
            if (sample.Long("master_last_io_seconds_ago") is { } lastIo)
            {
                _series.Set(_masterLastIo, lastIo, master);
            }

            if (sample.Long("master_sync_in_progress") is { } syncing)
            {
                _series.Set(_masterSyncInProgress, syncing, master);
            }

            if (sample.Long("slave_repl_offset") is { } offset)
            {
                _series.Set(_slaveReplOffset, offset, master);
            }

            _series.Set(_slaveInfo, 1, master[0], master[1], info.GetValueOrDefault("slave_read_only", ""));
        }

        for (var i = 0; info.TryGetValue("slave" + i.ToString(CultureInfo.InvariantCulture), out var text); i++)
        {
            var replica = InfoParser.ParseFields(text);
            // Redis 2.8+: ip=..,port=..,state=..,offset=..,lag=..; Redis 2.6: ip,port,state by position.
            string[] labels =
            [
                replica.GetValueOrDefault("ip") ?? replica.GetValueOrDefault("0", ""),
                replica.GetValueOrDefault("port") ?? replica.GetValueOrDefault("1", ""),
                replica.GetValueOrDefault("state") ?? replica.GetValueOrDefault("2", ""),
            ];
            if (Number(replica, "offset") is { } offset)
            {
                _series.Set(_replicaOffset, offset, labels);
            }

            if (Number(replica, "lag") is { } lag)
            {
                _series.Set(_replicaLag, lag, labels);
            }
        }
    }

    private const string IoThreadPrefix = "used_active_time_io_thread_";

    /// <summary>The most databases given a zero series each when empty: a bound on cardinality for a server configured with thousands.</summary>
    private const int MaxZeroDatabases = 256;

    private void ApplyComposites(RedisSample sample)
    {
        // INFO keyspace leaves empty databases out; redis_exporter shows them as 0, and so do we,
        // so that an empty Redis reads 0 keys rather than "No data".
        if (sample.Config?.Databases is { } databases)
        {
            for (var i = 0; i < Math.Min(databases, MaxZeroDatabases); i++)
            {
                var key = "db" + i.ToString(CultureInfo.InvariantCulture);
                if (!sample.Info.ContainsKey(key))
                {
                    _series.Set(_dbKeys, 0, key);
                    _series.Set(_dbKeysExpiring, 0, key);
                }
            }
        }

        foreach (var (key, value) in sample.Info)
        {
            if (key.StartsWith("db", StringComparison.Ordinal) && key.Length > 2 && key.AsSpan(2).IndexOfAnyExceptInRange('0', '9') < 0)
            {
                var db = InfoParser.ParseFields(value);
                SetIf(_dbKeys, Number(db, "keys"), key);
                SetIf(_dbKeysExpiring, Number(db, "expires"), key);
                SetIf(_dbAvgTtl, Number(db, "avg_ttl") / 1000, key);
            }
            else if (key.StartsWith("cmdstat_", StringComparison.Ordinal))
            {
                var stat = InfoParser.ParseFields(value);
                var command = key["cmdstat_".Length..];
                SetIf(_commands, Number(stat, "calls"), command);
                SetIf(_commandsDuration, Number(stat, "usec") / 1e6, command);
                SetIf(_commandsRejected, Number(stat, "rejected_calls"), command);
                SetIf(_commandsFailed, Number(stat, "failed_calls"), command);
            }
            else if (key.StartsWith("errorstat_", StringComparison.Ordinal))
            {
                SetIf(_errors, Number(InfoParser.ParseFields(value), "count"), key["errorstat_".Length..]);
            }
            else if (key.StartsWith(IoThreadPrefix, StringComparison.Ordinal) && key.Length > IoThreadPrefix.Length && key.Length <= IoThreadPrefix.Length + 3
                     && key.AsSpan(IoThreadPrefix.Length).IndexOfAnyExceptInRange('0', '9') < 0
                     && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var active))
            {
                // The exporter's name and unit (it takes INFO's figure as it is).
                SetIf(_ioThreadActiveTime, active, key[IoThreadPrefix.Length..]);
            }
        }
    }

    private void ApplySlowlog(SlowlogValues? slowlog)
    {
        if (slowlog is not null)
        {
            _series.Set(_slowlogLength, slowlog.Length);
            _series.Set(_slowlogLastId, slowlog.LastId);
            _series.Set(_lastSlowDuration, slowlog.LastDuration.TotalSeconds);
        }
    }

    /// <summary>
    /// CLUSTER INFO as redis_exporter exports it: every <c>cluster_*</c> field a gauge of its own
    /// name (<c>ok</c> 1, <c>fail</c> 0), the two message totals under the exporter's names.
    /// </summary>
    private void ApplyCluster(IReadOnlyDictionary<string, string>? cluster)
    {
        if (cluster is null)
        {
            return;
        }

        foreach (var (field, text) in cluster)
        {
            var value = text switch
            {
                "ok" => 1,
                "fail" => 0,
                _ => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number) ? number : (double?)null,
            };
            if (value is null || ClusterName(field) is not { } name)
            {
                continue;
            }

            if (!_cluster.TryGetValue(name, out var gauge))
            {
                if (_cluster.Count >= MaxClusterFields)
                {
                    continue;
                }

                _cluster[name] = gauge = _factory.CreateGauge(name, $"CLUSTER INFO {field}{Sampled}", new GaugeConfiguration { SuppressInitialValue = true });
            }

            _series.Set(gauge, value.Value);
        }
    }

    /// <summary>The family of a CLUSTER INFO field: redis_ and the field with anything but [a-zA-Z0-9_] made _, as the exporter names them; null for a field it leaves out.</summary>
    internal static string? ClusterName(string field)
    {
        if (!field.StartsWith("cluster_", StringComparison.Ordinal) || field.Length > 100)
        {
            return null;
        }

        var name = field switch
        {
            "cluster_stats_messages_sent" => "cluster_messages_sent_total",
            "cluster_stats_messages_received" => "cluster_messages_received_total",
            _ => string.Create(field.Length, field, static (span, f) =>
            {
                for (var i = 0; i < f.Length; i++)
                {
                    span[i] = char.IsAsciiLetterOrDigit(f[i]) || f[i] == '_' ? f[i] : '_';
                }
            }),
        };
        return "redis_" + name;
    }

    private void ApplyPlan(PlanUsage usage)
    {
        _series.Set(_planInfo, 1, usage.PlanName);
        _series.Set(_activeConnections, usage.ActiveConnections);
        SetIf(_planMemoryLimit, usage.MemoryLimit);
        SetIf(_planConnectionsLimit, usage.ConnectionLimit);
        SetIf(_planMemoryRatio, usage.MemoryRatio);
        SetIf(_planConnectionsRatio, usage.ConnectionRatio);
    }

    private void SetIf(Gauge gauge, double? value, params string[] labels)
    {
        if (value is { } v && double.IsFinite(v))
        {
            _series.Set(gauge, v, labels);
        }
    }

    private void SetIf(Counter counter, double? value, params string[] labels)
    {
        if (value is { } v && double.IsFinite(v) && v >= 0)
        {
            _series.Set(counter, v, labels);
        }
    }

    private static double? Number(IReadOnlyDictionary<string, string> fields, string key) =>
        fields.TryGetValue(key, out var text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null;
}
