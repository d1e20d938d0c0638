using RedisAgent.Sampling;

namespace RedisAgent.Metrics;

/// <summary>
/// A node's use of its plan at one sample. A limit comes from the plan when one is configured,
/// else from Redis's own <c>maxmemory</c> / <c>maxclients</c>; with neither (<c>maxmemory 0</c> and
/// no plan) there is no limit, and no ratio: never NaN nor +Inf.
/// </summary>
/// <param name="ActiveConnections"><c>connected_clients</c> less the agent's own sampling connection.</param>
internal sealed record PlanUsage(
    string PlanName,
    long UsedMemory,
    long ActiveConnections,
    long? MemoryLimit,
    long? ConnectionLimit,
    double? MemoryRatio,
    double? ConnectionRatio)
{
    /// <summary>The agent's own connections to its node that <c>connected_clients</c> counts: the sampler's one.</summary>
    public const int AgentConnections = 1;

    public static PlanUsage Compute(Plan? plan, RedisSample sample)
    {
        var used = sample.Long("used_memory") ?? 0;
        var active = Math.Max(0, (sample.Long("connected_clients") ?? 0) - AgentConnections);
        var memoryLimit = plan?.MemoryBytes ?? (sample.MaxMemory is > 0 and var maxmemory ? maxmemory : null);
        var connectionLimit = plan?.Connections ?? (sample.MaxClients is > 0 and var maxclients ? maxclients : null);
        return new PlanUsage(
            plan?.Name ?? "none",
            used,
            active,
            memoryLimit,
            connectionLimit,
            Ratio(used, memoryLimit),
            Ratio(active, connectionLimit));
    }

    private static double? Ratio(long used, long? limit) => limit is > 0 ? (double)used / limit.Value : null;
}
