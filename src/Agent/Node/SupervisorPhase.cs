namespace RedisAgent.Node;

/// <summary>Where the supervisor stands with its node.</summary>
internal enum SupervisorPhase
{
    /// <summary>The node is believed to be running; probes watch it.</summary>
    Watching,

    /// <summary>A restart is decided and waits out its backoff.</summary>
    RestartPending,

    /// <summary>Restarted; waiting for the node to answer within the start timeout.</summary>
    Starting,

    /// <summary>The start limit was hit: no more restarts until the node is seen healthy again. Needs a failover.</summary>
    GaveUp,

    /// <summary>The persistence guard refused the restart. Needs a failover.</summary>
    Refused,

    /// <summary>Neither the node's port nor its host answers: a restart cannot help. Needs a failover.</summary>
    HostUnreachable,

    /// <summary>Redis needs a restart but the coordinator's restart lease is not held: the restart waits for its grant.</summary>
    AwaitingLease,

    /// <summary>The agent is shutting down.</summary>
    Stopped,
}
