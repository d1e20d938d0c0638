using RedisAgent.Sampling;

namespace RedisAgent.Supervision;

/// <summary>
/// Refuses to restart a primary that has replicas and no persistence. Such a primary comes
/// back empty, and its replicas, resyncing from it, would erase their own copy of the data:
/// the one case where a quick restart is worse than staying down (Redis's replication docs
/// warn of exactly this). The node then needs a failover to a replica instead.
/// </summary>
internal static class PersistenceGuard
{
    public static RestartVerdict Check(NodeFacts? facts)
    {
        if (facts is null || !facts.IsPrimary || facts.ConnectedReplicas == 0)
        {
            return RestartVerdict.Allowed;
        }

        return facts.HasPersistence switch
        {
            false => RestartVerdict.Refuse(
                $"the node was a primary with {facts.ConnectedReplicas} replica(s) and no persistence (appendonly no, save \"\"): " +
                "restarted, it would come back empty and its replicas would copy the empty data set"),
            // CONFIG is renamed or disabled: the save setting cannot be read. Refusing would turn every
            // crash of such a node into an outage, so the restart goes ahead and the log says why.
            null => RestartVerdict.Allow("persistence unknown (CONFIG unavailable) on a primary with replicas"),
            true => RestartVerdict.Allowed,
        };
    }
}

/// <summary>The guard's answer: allowed, or refused with the reason.</summary>
internal sealed record RestartVerdict(bool IsAllowed, string? Reason)
{
    public static readonly RestartVerdict Allowed = new(true, null);

    public static RestartVerdict Allow(string note) => new(true, note);

    public static RestartVerdict Refuse(string reason) => new(false, reason);
}
