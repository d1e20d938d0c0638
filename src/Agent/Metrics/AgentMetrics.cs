using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;
using RedisAgent.HostProbing;
using RedisAgent.Logs;
using RedisAgent.Node;
using RedisAgent.Probing;
using RedisAgent.Sampling;
using RedisAgent.Supervision;

namespace RedisAgent.Metrics;

/// <summary>
/// The agent's Prometheus registry. Before each collection it brings the series up to date from
/// what the agent's loops already hold (the last sample, the observations, the supervisor's status,
/// the log pipeline's counters): a scrape reads memory and never touches Redis. A new sample is
/// applied once, whatever the number of scrapes.
/// </summary>
internal sealed partial class AgentMetrics
{
    private static readonly double[] ProbeBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Lock _applyLock = new();
    private readonly SampleBook _samples;
    private readonly NodeStatus _status;
    private readonly ObservationBook _observations;
    private readonly LogBus _logs;
    private readonly TimeProvider _time;
    private readonly ILogger<AgentMetrics> _logger;
    private readonly DateTimeOffset _started;
    private readonly RedisMetrics _redis;
    private RedisSample? _applied;
    private bool _withdrawn;
    private bool _planChecked;

    private readonly Gauge _up;
    private readonly Gauge _sampleAge;
    private readonly Gauge _sampleDuration;
    private readonly Counter _samplesTotal;
    private readonly Gauge _configAvailable;
    private readonly Histogram _probeDuration;
    private readonly Counter _probes;
    private readonly Gauge _verdict;
    private readonly Gauge _hostVerdict;
    private readonly Gauge _phase;
    private readonly Gauge _needsFailover;
    private readonly Counter _restarts;
    private readonly Counter _restartsRefused;
    private readonly Counter _logLines;
    private readonly Counter _sinkLines;
    private readonly Counter _sinkUnconfirmed;
    private readonly Gauge _sinkQueued;
    private readonly Gauge _sinks;
    private readonly Counter _httpRefused;
    private readonly RefusedConnections? _refused;

    public AgentMetrics(
        SampleBook samples,
        NodeStatus status,
        ObservationBook observations,
        LogBus logs,
        IOptions<PlanOptions> plan,
        TimeProvider time,
        ILogger<AgentMetrics> logger,
        RefusedConnections? refused = null)
    {
        _refused = refused;
        _samples = samples;
        _status = status;
        _observations = observations;
        _logs = logs;
        _time = time;
        _logger = logger;
        _started = time.GetUtcNow();
        Plan = plan.Value.Name is { Length: > 0 } name ? Plans.Find(name, plan.Value.Custom) : null;

        Registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        _redis = new RedisMetrics(factory);

        _up = factory.CreateGauge("redis_up", "1 when the last sample of the node succeeded (the agent samples every Sampling:Interval; scrapes do not reach Redis)");
        _sampleAge = factory.CreateGauge("redis_agent_sample_age_seconds", "Seconds since the last good sample (since the agent started, before the first)");
        _sampleDuration = factory.CreateGauge("redis_agent_sample_duration_seconds", "How long the last good sample (INFO ALL and CONFIG GET) took",
            new GaugeConfiguration { SuppressInitialValue = true });
        _samplesTotal = factory.CreateCounter("redis_agent_samples_total", "Samples taken, by result (ok, error)", "result");
        _configAvailable = factory.CreateGauge("redis_agent_config_available", "1 while CONFIG GET works on the node; 0 once it turned out renamed or disabled");
        _probeDuration = factory.CreateHistogram("redis_agent_probe_duration_seconds", "Probe latency by target and kind (port: connect+AUTH+PING; host: SSH check)",
            new HistogramConfiguration { LabelNames = ["target", "kind"], Buckets = ProbeBuckets });
        _probes = factory.CreateCounter("redis_agent_probes_total", "Probes by target, kind and outcome", "target", "kind", "outcome");
        _verdict = factory.CreateGauge("redis_agent_verdict", "The agent's verdict on each target: 1 for the current one, 0 for the others", "target", "verdict");
        _hostVerdict = factory.CreateGauge("redis_agent_host_verdict", "The SSH host probe's verdict on each target: 1 for the current one", "target", "verdict");
        _phase = factory.CreateGauge("redis_agent_supervisor_phase", "The supervisor's phase: 1 for the current one", "phase");
        _needsFailover = factory.CreateGauge("redis_agent_needs_failover", "1 while the agent cannot restart the node and asks for a failover");
        _restarts = factory.CreateCounter("redis_agent_restarts_total", "Restarts of the node by reason (exited, probe_failures, hang, start_timeout, restart_failed)", "reason");
        _restartsRefused = factory.CreateCounter("redis_agent_restarts_refused_total", "Restarts refused (persistence guard, start limit)");
        _logLines = factory.CreateCounter("redis_agent_log_lines_total", "Log lines published, by source (redis, agent)", "source");
        _sinkLines = factory.CreateCounter("redis_agent_log_sink_lines_total", "Log lines per kind of sink (syslog, tail), by result (received, shipped, dropped)", "sink", "result");
        _sinkUnconfirmed = factory.CreateCounter("redis_agent_log_sink_unconfirmed_lines_total",
            "Shipped log lines whose connection died before the drain was seen to read them: they may not have reached it (event 1515)", "sink");
        _sinkQueued = factory.CreateGauge("redis_agent_log_sink_queued_lines", "Log lines waiting in the sinks' queues", "sink");
        _sinks = factory.CreateGauge("redis_agent_log_sinks", "Sinks attached (syslog drains, live tails)", "sink");
        _httpRefused = factory.CreateCounter("redis_agent_http_connections_refused_total", "HTTP connections closed as they came because Http:MaxConnections were open (event 1041), or their client's Http:MaxConnectionsPerClient (event 1042)");
        factory.CreateGauge("redis_agent_info", "The agent's version, always 1", "version")
            .WithLabels(typeof(AgentMetrics).Assembly.GetName().Version?.ToString() ?? "unknown").Set(1);
        Prometheus.DotNetStats.Register(Registry);

        foreach (var value in Names<RestartTrigger>.Values)
        {
            _restarts.WithLabels(Names<RestartTrigger>.Of(value));
        }

        observations.Probed += (target, kind, latency) => _probeDuration.WithLabels(target, kind).Observe(latency.TotalSeconds);
        Registry.AddBeforeCollectCallback(Refresh);
    }

    public CollectorRegistry Registry { get; }

    /// <summary>
    /// The registry's text, then the families prometheus-net cannot carry (the latency summaries
    /// Redis computes itself), left out while Redis is down like every other sampled series.
    /// </summary>
    public async Task ExportAsTextAsync(Stream stream, CancellationToken cancellationToken)
    {
        await Registry.CollectAndExportAsTextAsync(stream, cancellationToken).ConfigureAwait(false);
        if (_samples.LastSucceeded && _samples.Last is { } sample && LatencySummaries.Render(sample) is { Length: > 0 } summaries)
        {
            await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(summaries), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The configured plan; null when none is (the limits are then Redis's own).</summary>
    public Plan? Plan { get; }

    /// <summary>Brings every series up to date; called before each collection, possibly by concurrent scrapes.</summary>
    public void Refresh()
    {
        if (_refused is not null)
        {
            _httpRefused.IncTo(_refused.Total);
        }

        var sample = _samples.Last;
        if (!_samples.LastSucceeded && sample is not null)
        {
            // Redis is down: its series go until it answers again (a new sample is applied afresh).
            lock (_applyLock)
            {
                if (!_samples.LastSucceeded && !_withdrawn)
                {
                    _redis.Withdraw(Plan);
                    _withdrawn = true;
                }
            }
        }
        else if (sample is not null && (!ReferenceEquals(sample, Volatile.Read(ref _applied)) || _withdrawn))
        {
            lock (_applyLock)
            {
                if (!ReferenceEquals(sample, _applied) || _withdrawn)
                {
                    _withdrawn = false;
                    _redis.Apply(sample, Plan);
                    CheckPlanOnce(sample);
                    Volatile.Write(ref _applied, sample);
                }
            }
        }

        var now = _time.GetUtcNow();
        _up.Set(_samples.LastSucceeded ? 1 : 0);
        _sampleAge.Set(Math.Max(0, (now - (sample?.At ?? _started)).TotalSeconds));
        if (sample is not null)
        {
            _sampleDuration.Set(sample.Duration.TotalSeconds);
        }

        _samplesTotal.WithLabels("ok").IncTo(_samples.Samples);
        _samplesTotal.WithLabels("error").IncTo(_samples.Failures);
        _configAvailable.Set(_samples.ConfigAvailable ? 1 : 0);

        foreach (var target in _observations.Targets.Values)
        {
            foreach (var (outcome, count) in target.PortOutcomes)
            {
                _probes.WithLabels(target.Name, "port", Names<PortProbeOutcome>.Of(outcome)).IncTo(count);
            }

            foreach (var (outcome, count) in target.HostOutcomes)
            {
                _probes.WithLabels(target.Name, "host", Names<HostProbeOutcome>.Of(outcome)).IncTo(count);
            }

            SetState(_verdict, target.Verdict, target.Name);
            if (target.SshAddress is not null)
            {
                SetState(_hostVerdict, target.HostVerdict, target.Name);
            }
        }

        var node = _status.Snapshot;
        SetState(_phase, node.Phase);
        _needsFailover.Set(node.NeedsFailover is null ? 0 : 1);
        foreach (var (trigger, count) in node.RestartsByTrigger)
        {
            _restarts.WithLabels(Names<RestartTrigger>.Of(trigger)).IncTo(count);
        }

        _restartsRefused.IncTo(node.RestartsRefused);

        foreach (var source in Enum.GetValues<LogSource>())
        {
            _logLines.WithLabels(LogLine.NameOf(source)).IncTo(_logs.PublishedFrom(source));
        }

        foreach (var (kind, (counters, attached)) in _logs.SinkTotals())
        {
            _sinkLines.WithLabels(kind, "received").IncTo(counters.Received);
            _sinkLines.WithLabels(kind, "shipped").IncTo(counters.Shipped);
            _sinkLines.WithLabels(kind, "dropped").IncTo(counters.Dropped);
            _sinkUnconfirmed.WithLabels(kind).IncTo(counters.Unconfirmed);
            _sinkQueued.WithLabels(kind).Set(counters.Queued);
            _sinks.WithLabels(kind).Set(attached);
        }
    }

    /// <summary>A plan the server does not enforce is worth one warning: Redis will not stop at the plan's memory.</summary>
    private void CheckPlanOnce(RedisSample sample)
    {
        if (_planChecked || Plan is null || sample.MaxMemory is not { } maxmemory)
        {
            return;
        }

        _planChecked = true;
        if (maxmemory == 0 || maxmemory > Plan.MemoryBytes)
        {
            Log.PlanNotEnforced(_logger, Plan.Name, Plan.MemoryBytes, maxmemory);
        }
    }

    private static void SetState<TEnum>(Gauge gauge, TEnum current, params string[] labels)
        where TEnum : struct, Enum
    {
        foreach (var value in Names<TEnum>.Values)
        {
            gauge.WithLabels([.. labels, Names<TEnum>.Of(value)]).Set(EqualityComparer<TEnum>.Default.Equals(value, current) ? 1 : 0);
        }
    }

    /// <summary>An enum's values and their label spellings, computed once rather than per scrape.</summary>
    private static class Names<TEnum>
        where TEnum : struct, Enum
    {
        public static readonly TEnum[] Values = Enum.GetValues<TEnum>();

        private static readonly Dictionary<TEnum, string> Snakes = Values.ToDictionary(v => v, v => Snake(v.ToString()));

        public static string Of(TEnum value) => Snakes.TryGetValue(value, out var name) ? name : Snake(value.ToString());
    }

    /// <summary><c>ProcessDown</c> → <c>process_down</c>: label values in Prometheus's style.</summary>
    internal static string Snake(string pascal) =>
        string.Concat(pascal.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "_" : "") + char.ToLowerInvariant(c) : c.ToString()));

    private static partial class Log
    {
        [LoggerMessage(EventId = 1404, Level = LogLevel.Warning, Message = "Plan {Plan} allows {PlanBytes} bytes but the node's maxmemory is {MaxMemory} (0: no limit): Redis will not hold to the plan's memory; set maxmemory to the plan's")]
        public static partial void PlanNotEnforced(ILogger logger, string plan, long planBytes, long maxMemory);
    }
}
