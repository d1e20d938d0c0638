using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.Node;
using RedisAgent.Supervision;

namespace RedisAgent.Probing;

/// <summary>
/// Probes the local node's port on its own loop, turns observations into verdicts and hands
/// every observation to the supervisor. Nothing else runs on this loop, so nothing else can
/// delay a probe.
/// </summary>
internal sealed partial class PortProbeMonitor(
    RedisEndpoint endpoint,
    RedisTlsTrust trust,
    NodeStatus status,
    SupervisorInbox inbox,
    IOptions<ProbeOptions> probeOptions,
    IOptions<VerdictOptions> verdictOptions,
    TimeProvider time,
    ILogger<PortProbeMonitor> logger) : BackgroundService
{
    private readonly ProbeOptions _options = probeOptions.Value;
    private readonly PortProbe _probe = new(endpoint, probeOptions.Value.Timeout, time, trust);
    private readonly VerdictPolicy _policy = new(verdictOptions.Value);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Log.Watching(logger, endpoint.ToString(), _options.Interval.TotalMilliseconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            var started = time.GetTimestamp();
            try
            {
                var result = await _probe.ProbeAsync(stoppingToken).ConfigureAwait(false);
                var change = _policy.Observe(result);
                status.RecordProbe(result, change);
                inbox.Post(new SupervisorSignal.Probed(result, _policy.Current, change));
                if (change is not null)
                {
                    LogChange(change);
                }

                var interval = _policy.IsSettled ? _options.Interval : _options.RetryInterval;
                var wait = interval - time.GetElapsedTime(started);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, time, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                Log.ProbeLoopFailed(logger, ex.GetType().Name, ex.Message);
                await Task.Delay(_options.Interval, time, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private void LogChange(VerdictChange change)
    {
        var detail = change.Evidence.Detail ?? change.Evidence.Outcome.ToString();
        switch (change.To)
        {
            case NodeVerdict.Healthy:
                Log.Healthy(logger, change.From, change.Evidence.Latency.TotalMilliseconds);
                break;
            case NodeVerdict.Busy:
                Log.Busy(logger, detail);
                break;
            case NodeVerdict.Misconfigured:
                Log.Misconfigured(logger, endpoint.ToString(), detail);
                break;
            default:
                Log.Down(logger, change.To, change.Observations, change.Evidence.Outcome, detail);
                break;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Probing {Endpoint} every {IntervalMs:0} ms")]
        public static partial void Watching(ILogger logger, string endpoint, double intervalMs);

        [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Node is Healthy (was {From}); PING answered in {LatencyMs:0.0} ms")]
        public static partial void Healthy(ILogger logger, NodeVerdict from, double latencyMs);

        [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Node is Busy, alive but not serving ({Reply}); it will not be restarted for this")]
        public static partial void Busy(ILogger logger, string reply);

        [LoggerMessage(EventId = 1004, Level = LogLevel.Error, Message = "The agent cannot use {Endpoint}: {Reply}. Check the user and password in REDIS_URL (and Redis:TlsCaFile or Redis:TlsCertificateSha256 for rediss://); the server itself is up and will not be restarted")]
        public static partial void Misconfigured(ILogger logger, string endpoint, string reply);

        [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Node is {Verdict} after {Observations} consecutive failed probes (last: {Outcome}, {Detail})")]
        public static partial void Down(ILogger logger, NodeVerdict verdict, int observations, PortProbeOutcome outcome, string detail);

        [LoggerMessage(EventId = 1099, Level = LogLevel.Error, Message = "The probe loop failed and carries on: {Type}: {Message}")]
        public static partial void ProbeLoopFailed(ILogger logger, string type, string message);
    }
}
