using RedisShared.Security;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.HostProbing;
using RedisAgent.Node;
using RedisAgent.Probing;

namespace RedisAgent.Peers;

/// <summary>
/// Watches the other nodes of the resource, each on loops of its own, so this agent is a vantage
/// point for them. Nothing here shares a loop with the agent's own node: a dead or silent peer
/// cannot slow the local probes.
/// </summary>
internal sealed class PeerMonitor : BackgroundService
{
    private readonly List<TargetMonitor> _monitors;

    public PeerMonitor(
        ProbeTargets targets,
        ObservationBook book,
        TlsTrust tls,
        HostProbeFactory hosts,
        IOptions<ProbeOptions> probeOptions,
        IOptions<VerdictOptions> verdictOptions,
        IOptions<Connection.AgentOptions> agent,
        TimeProvider time,
        ILogger<PeerMonitor> logger)
    {
        // Peers are trusted like the agent's own node for TLS: one resource, one CA or pin set.
        // Their port probes leave from Agent:SourceAddress, so a partition of this host cuts them too.
        _monitors = [.. targets.Peers.Select(peer => new TargetMonitor(
            peer, probeOptions.Value, verdictOptions.Value, tls, hosts, book, time, logger, source: agent.Value.Source()))];
    }

    public override void Dispose()
    {
        foreach (var monitor in _monitors)
        {
            monitor.Dispose();
        }

        base.Dispose();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_monitors.Select(m => Task.Run(() => m.RunAsync(stoppingToken), stoppingToken)));
}
