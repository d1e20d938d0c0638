using RedisShared.Security;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.HostProbing;
using RedisAgent.Node;
using RedisAgent.Peers;
using RedisAgent.Supervision;

namespace RedisAgent.Probing;

/// <summary>Watches the agent's own node and hands every observation, with its verdict, to the supervisor.</summary>
internal sealed class LocalNodeMonitor : BackgroundService
{
    private readonly TargetMonitor _monitor;

    public LocalNodeMonitor(
        ProbeTargets targets,
        NodeStatus status,
        SupervisorInbox inbox,
        ObservationBook book,
        TlsTrust tls,
        HostProbeFactory hosts,
        IOptions<ProbeOptions> probeOptions,
        IOptions<VerdictOptions> verdictOptions,
        TimeProvider time,
        ILogger<LocalNodeMonitor> logger)
    {
        _monitor = new TargetMonitor(
            targets.Local, probeOptions.Value, verdictOptions.Value, tls, hosts, book, time, logger,
            onPort: (result, verdict, change) =>
            {
                status.RecordProbe(result, verdict, change);
                inbox.Post(new SupervisorSignal.Probed(result, verdict, change));
            },
            onHost: (result, verdict, change) =>
            {
                status.RecordVerdict(verdict, change);
                inbox.Post(new SupervisorSignal.HostProbed(result, verdict, change));
            });
    }

    public override void Dispose()
    {
        _monitor.Dispose();
        base.Dispose();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => _monitor.RunAsync(stoppingToken);
}
