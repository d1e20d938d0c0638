using RedisAgent.Connection;
using RedisAgent.HostProbing;

namespace RedisAgent.Probing;

/// <summary>Something the agent probes: its own node, or a peer. <see cref="Ssh"/> is null when its host is not probed.</summary>
/// <param name="Anonymous">Probed without credentials (a peer named only by the coordinator, over plain text, where nothing proves who answers): a refusal to authenticate is the answer expected, not a misconfiguration.</param>
internal sealed record ProbeTarget(string Name, bool IsLocal, RedisEndpoint Endpoint, ResolvedSsh? Ssh, string ConfigPrefix, bool Anonymous = false);

/// <summary>All targets of this agent, resolved from configuration once.</summary>
internal sealed class ProbeTargets(ProbeTarget local, IReadOnlyList<ProbeTarget> peers)
{
    public ProbeTarget Local => local;

    public IReadOnlyList<ProbeTarget> Peers => peers;

    public IEnumerable<ProbeTarget> All => peers.Prepend(local);
}
