using RedisFailover.Protos;

namespace RedisAgent.Node;

/// <summary>What the agent last learnt about its node from INFO and CONFIG GET.</summary>
/// <param name="Role">INFO replication's <c>role</c>.</param>
/// <param name="ConnectedReplicas">INFO replication <c>connected_slaves</c>.</param>
/// <param name="AofEnabled">INFO persistence <c>aof_enabled</c>.</param>
/// <param name="SaveConfig">CONFIG GET save; null when CONFIG is unavailable (renamed or disabled).</param>
/// <param name="ProcessId">INFO server <c>process_id</c>.</param>
/// <param name="SampledAt">When the sample was taken.</param>
/// <param name="AppendFsync">CONFIG GET appendfsync (always, everysec, no); null when CONFIG is unavailable.</param>
/// <param name="PrimaryAddress">For a replica: <c>master_host:master_port</c>; null for a primary.</param>
/// <param name="MinReplicasToWrite">CONFIG GET min-replicas-to-write; null when CONFIG is unavailable.</param>
internal sealed record NodeFacts(NodeRole Role, int ConnectedReplicas, bool AofEnabled, string? SaveConfig, int ProcessId, DateTimeOffset SampledAt, string? AppendFsync = null, string? PrimaryAddress = null, long? MinReplicasToWrite = null)
{
    public bool IsPrimary => Role == NodeRole.Primary;

    /// <summary>
    /// True when what a restart would load from disk may be older than what the node's replicas hold:
    /// RDB snapshots only (everything since the last one is gone), or an AOF the kernel is left to flush
    /// (<c>appendfsync no</c>: a machine restart loses up to its whole page cache). Null when it cannot be told.
    /// </summary>
    public bool? DiskMayBeBehind => AofEnabled
        ? AppendFsync is null ? null : string.Equals(AppendFsync.Trim(), "no", StringComparison.OrdinalIgnoreCase)
        : SaveConfig is null ? null : SaveConfig.Trim().Length > 0;

    /// <summary>True when a restart would bring the data back (AOF, or RDB snapshots configured); null when it cannot be told.</summary>
    public bool? HasPersistence => AofEnabled ? true : SaveConfig is null ? null : SaveConfig.Trim().Length > 0;
}

/// <summary>A node's replication as INFO replication says it: what the coordinator judges sync and loss by.</summary>
/// <param name="Offset">The replication offset: <c>master_repl_offset</c> for a primary, <c>slave_repl_offset</c> for a replica.</param>
/// <param name="LinkUp">For a replica: <c>master_link_status:up</c>.</param>
/// <param name="PrimaryAddress">For a replica: <c>master_host:master_port</c>; empty for a primary.</param>
/// <param name="SyncInProgress">For a replica: <c>master_sync_in_progress:1</c>.</param>
internal sealed record ReplicationFacts(NodeRole Role, long Offset, bool LinkUp, string PrimaryAddress, bool SyncInProgress);
