namespace RedisAgent.Sampling;

/// <summary>What the agent last learnt about its node from INFO and CONFIG GET.</summary>
/// <param name="Role"><c>master</c> or <c>slave</c>, as INFO says it.</param>
/// <param name="ConnectedReplicas">INFO replication <c>connected_slaves</c>.</param>
/// <param name="AofEnabled">INFO persistence <c>aof_enabled</c>.</param>
/// <param name="SaveConfig">CONFIG GET save; null when CONFIG is unavailable (renamed or disabled).</param>
/// <param name="ProcessId">INFO server <c>process_id</c>.</param>
/// <param name="SampledAt">When the sample was taken.</param>
internal sealed record NodeFacts(string Role, int ConnectedReplicas, bool AofEnabled, string? SaveConfig, int ProcessId, DateTimeOffset SampledAt)
{
    public bool IsPrimary => Role == "master";

    /// <summary>True when a restart would bring the data back (AOF, or RDB snapshots configured); null when it cannot be told.</summary>
    public bool? HasPersistence => AofEnabled ? true : SaveConfig is null ? null : SaveConfig.Trim().Length > 0;
}
