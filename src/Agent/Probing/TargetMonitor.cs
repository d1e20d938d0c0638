using RedisShared.Security;
using Microsoft.Extensions.Logging;
using RedisAgent.Connection;
using RedisAgent.HostProbing;
using RedisAgent.Node;
using RedisAgent.Peers;

namespace RedisAgent.Probing;

/// <summary>
/// Watches one target: a port loop and, when the target's host is probed, a host loop, each on its
/// own cadence, both reporting to the target's <see cref="TargetJudge"/> and the
/// <see cref="ObservationBook"/>. The owner is told of every observation and the verdict it left.
/// </summary>
internal sealed partial class TargetMonitor : IDisposable
{
    private readonly ProbeTarget _target;
    private readonly ProbeOptions _options;
    private readonly ObservationBook _book;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly PortProbe _portProbe;
    private readonly HostProbe? _hostProbe;
    private readonly Action<PortProbeResult, NodeVerdict, VerdictChange?> _onPort;
    private readonly Action<HostProbeResult, NodeVerdict, VerdictChange?> _onHost;
    private readonly ProbeWakeup _hostWakeup = new();

    public TargetMonitor(
        ProbeTarget target,
        ProbeOptions probeOptions,
        VerdictOptions verdictOptions,
        TlsTrust tls,
        HostProbeFactory hosts,
        ObservationBook book,
        TimeProvider time,
        ILogger logger,
        Action<PortProbeResult, NodeVerdict, VerdictChange?>? onPort = null,
        Action<HostProbeResult, NodeVerdict, VerdictChange?>? onHost = null,
        System.Net.IPAddress? source = null)
    {
        _target = target;
        _options = probeOptions;
        _book = book;
        _time = time;
        _logger = logger;
        _portProbe = new PortProbe(target.Endpoint, probeOptions.Timeout, time, tls, source);
        _hostProbe = target.Ssh is { } ssh ? hosts.Create(ssh) : null;
        _onPort = onPort ?? ((_, _, _) => { });
        _onHost = onHost ?? ((_, _, _) => { });
        Judge = new TargetJudge(verdictOptions, _hostProbe is not null);
        book.Register(target.Name, target.IsLocal, target.Endpoint.HostAndPort, target.Ssh?.Address);
    }

    public TargetJudge Judge { get; }

    public Task RunAsync(CancellationToken stoppingToken)
    {
        Log.Watching(_logger, _target.Name, _target.Endpoint.ToString(), _target.Ssh is { } ssh ? $"{ssh.User}@{ssh.Address} ({HostProbing.HostProbe.Describe(ssh)})" : "not probed", _options.Interval.TotalMilliseconds);
        var portLoop = ProbeLoop.RunAsync($"{_target.Name} port", ProbePortAsync, _options.Interval, _options.RetryInterval, _time, _logger, stoppingToken, timeout: _options.Timeout);
        // The host loop runs at its own, slower pace (each probe costs the host a process), and is
        // woken the moment the port goes silent, which is when its answer matters.
        var hostLoop = _hostProbe is null
            ? Task.CompletedTask
            : ProbeLoop.RunAsync($"{_target.Name} host", ProbeHostAsync, _target.Ssh!.Interval, _options.RetryInterval, _time, _logger, stoppingToken, _hostWakeup);
        return Task.WhenAll(portLoop, hostLoop);
    }

    public void Dispose() => _hostProbe?.Dispose();

    private async Task<bool> ProbePortAsync(CancellationToken deadline, CancellationToken cancellationToken)
    {
        var result = await _portProbe.ProbeAsync(deadline, cancellationToken).ConfigureAwait(false);
        if (result.Outcome is PortProbeOutcome.ConnectTimeout or PortProbeOutcome.Failed)
        {
            _hostWakeup.Wake();
        }

        var (verdict, change) = Judge.ObservePort(result);
        _book.RecordPort(_target.Name, result, verdict, change);
        if (change is not null)
        {
            LogChange(change);
        }

        _onPort(result, verdict, change);
        return Judge.PortSettled;
    }

    /// <summary>One SSH probe; it keeps its own time (Ssh:ConnectTimeout, Ssh:CommandTimeout), so the loop gives it no deadline.</summary>
    private async Task<bool> ProbeHostAsync(CancellationToken deadline, CancellationToken cancellationToken)
    {
        _book.HostProbeStarting(_target.Name, _time.GetUtcNow());
        var result = await _hostProbe!.ProbeAsync(cancellationToken).ConfigureAwait(false);
        var (verdict, change, hostChange) = Judge.ObserveHost(result);
        _book.RecordHost(_target.Name, result, Judge.HostVerdict, verdict, change);
        if (hostChange is not null)
        {
            LogHostChange(hostChange);
        }

        if (change is not null)
        {
            LogChange(change);
        }

        _onHost(result, verdict, change);
        return Judge.HostSettled;
    }

    private void LogChange(VerdictChange change)
    {
        var detail = change.Evidence.Detail ?? change.Evidence.Outcome.ToString();
        switch (change.To)
        {
            case NodeVerdict.Healthy:
                Log.Healthy(_logger, _target.Name, change.From, change.Evidence.Latency.TotalMilliseconds);
                break;
            case NodeVerdict.Busy:
                Log.Busy(_logger, _target.Name, detail);
                break;
            case NodeVerdict.Misconfigured when _target.Anonymous:
                Log.AnswersAnonymously(_logger, _target.Name, detail);
                break;
            case NodeVerdict.Misconfigured:
                Log.Misconfigured(_logger, _target.Name, _target.Endpoint.ToString(), detail);
                break;
            case NodeVerdict.HostUnreachable:
                Log.HostUnreachable(_logger, _target.Name, change.Evidence.Outcome, change.HostEvidence?.Outcome.ToString() ?? "silent");
                break;
            default:
                Log.Down(_logger, _target.Name, change.To, change.Observations, change.Evidence.Outcome, detail);
                break;
        }
    }

    private void LogHostChange(HostVerdictChange change)
    {
        var detail = change.Evidence.Detail ?? change.Evidence.Outcome.ToString();
        switch (change.To)
        {
            case HostVerdict.Misconfigured:
                Log.HostMisconfigured(_logger, _target.Name, _target.Ssh!.Address, change.Evidence.Outcome, detail);
                break;
            case HostVerdict.Down:
                Log.HostSilent(_logger, _target.Name, _target.Ssh!.Address, change.Observations, detail);
                break;
            default:
                Log.HostAnswers(_logger, _target.Name, _target.Ssh!.Address, change.Evidence.Outcome, change.Evidence.Latency.TotalMilliseconds);
                break;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Watching {Target}: Redis {Endpoint}, host {Ssh}, every {IntervalMs:0} ms")]
        public static partial void Watching(ILogger logger, string target, string endpoint, string ssh, double intervalMs);

        [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "{Target} is Healthy (was {From}); PING answered in {LatencyMs:0.0} ms")]
        public static partial void Healthy(ILogger logger, string target, NodeVerdict from, double latencyMs);

        [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "{Target} is Busy, alive but not serving ({Reply}); it will not be restarted for this")]
        public static partial void Busy(ILogger logger, string target, string reply);

        [LoggerMessage(EventId = 1004, Level = LogLevel.Error, Message = "The agent cannot use {Target} at {Endpoint}: {Reply}. Check the user and password in its URL (and Redis:TlsCaFile or Redis:TlsCertificateSha256 for rediss://); the server itself is up and will not be restarted")]
        public static partial void Misconfigured(ILogger logger, string target, string endpoint, string reply);

        [LoggerMessage(EventId = 1007, Level = LogLevel.Information, Message = "{Target} answers, asking for credentials ({Reply}): it is probed without them (named by the coordinator, over plain text), so this proves it alive")]
        public static partial void AnswersAnonymously(ILogger logger, string target, string reply);

        [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "{Target} is {Verdict} after {Observations} consecutive failed probes (last: {Outcome}, {Detail})")]
        public static partial void Down(ILogger logger, string target, NodeVerdict verdict, int observations, PortProbeOutcome outcome, string detail);

        [LoggerMessage(EventId = 1006, Level = LogLevel.Critical, Message = "{Target} is HostUnreachable: its Redis port is silent ({PortOutcome}) and so is its host over SSH ({HostOutcome})")]
        public static partial void HostUnreachable(ILogger logger, string target, PortProbeOutcome portOutcome, string hostOutcome);

        [LoggerMessage(EventId = 1020, Level = LogLevel.Information, Message = "Host of {Target} ({Address}) answers over SSH ({Outcome}, {LatencyMs:0.0} ms)")]
        public static partial void HostAnswers(ILogger logger, string target, string address, HostProbeOutcome outcome, double latencyMs);

        [LoggerMessage(EventId = 1021, Level = LogLevel.Warning, Message = "Host of {Target} ({Address}) is silent over SSH after {Observations} probes ({Detail})")]
        public static partial void HostSilent(ILogger logger, string target, string address, int observations, string detail);

        [LoggerMessage(EventId = 1022, Level = LogLevel.Error, Message = "SSH to {Target} ({Address}) is misconfigured, not down: {Outcome}: {Detail}. Fix the agent's Ssh settings; this is never taken for a lost host")]
        public static partial void HostMisconfigured(ILogger logger, string target, string address, HostProbeOutcome outcome, string detail);
    }
}
