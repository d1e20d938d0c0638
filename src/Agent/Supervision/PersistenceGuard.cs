using RedisAgent.Sampling;
using RedisAgent.Node;

namespace RedisAgent.Supervision;

/// <summary>
/// Refuses to restart a primary that has replicas when the restart would lose what they hold:
/// <list type="bullet">
/// <item>no persistence at all: it comes back empty, and its replicas, resyncing from it, erase their
/// own copy (Redis's replication docs warn of exactly this);</item>
/// <item>data on disk that may be older than theirs (RDB snapshots only, or <c>appendfsync no</c>):
/// it comes back at its last snapshot, a full resync makes the replicas drop every newer write, and
/// those were acknowledged (an RDB-only primary killed and restarted lost 202 of them where a
/// failover lost none).</item>
/// </list>
/// The node then needs a failover to a replica instead. A coordinator can lift the refusal: when no
/// standby is in sync (nothing can replace the node) the older data is the best there is, and when
/// the node is no longer the resource's primary it is rebuilt as a replica whatever it loads.
/// </summary>
internal static class PersistenceGuard
{
    public static RestartVerdict Check(NodeFacts? facts)
    {
        if (facts is null || !facts.IsPrimary || facts.ConnectedReplicas == 0)
        {
            return RestartVerdict.Allowed;
        }

        if (facts.HasPersistence == false)
        {
            return RestartVerdict.Refuse(GuardKind.NoPersistence,
                $"the node was a primary with {facts.ConnectedReplicas} replica(s) and no persistence (appendonly no, save \"\"): " +
                "restarted, it would come back empty and its replicas would copy the empty data set");
        }

        return facts.DiskMayBeBehind switch
        {
            true => RestartVerdict.Refuse(GuardKind.OlderData, facts.AofEnabled
                ? $"the node was a primary with {facts.ConnectedReplicas} replica(s) and appendfsync no: its AOF may be older than their data, " +
                  "and restarted as primary it would make them drop the newer writes"
                : $"the node was a primary with {facts.ConnectedReplicas} replica(s) and RDB snapshots only (save \"{facts.SaveConfig!.Trim()}\", appendonly no): " +
                  "restarted, it would load its last snapshot, older than their data, and make them drop every write since"),
            // CONFIG is renamed or disabled: the settings cannot be read. Refusing would turn every
            // crash of such a node into an outage, so the restart goes ahead and the log says why.
            null => RestartVerdict.Allow("persistence unknown (CONFIG unavailable) on a primary with replicas"),
            false => RestartVerdict.Allowed,
        };
    }
}

/// <summary>The guard's answer: allowed, or refused with the kind and the reason.</summary>
internal sealed record RestartVerdict(bool IsAllowed, string? Reason, GuardKind Kind = GuardKind.None)
{
    public static readonly RestartVerdict Allowed = new(true, null);

    public static RestartVerdict Allow(string note) => new(true, note);

    public static RestartVerdict Refuse(GuardKind kind, string reason) => new(false, reason, kind);
}
