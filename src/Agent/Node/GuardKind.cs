namespace RedisAgent.Node;

/// <summary>What the guard refuses for.</summary>
internal enum GuardKind
{
    None,

    /// <summary>No persistence: the node would come back empty.</summary>
    NoPersistence,

    /// <summary>The node would come back with data older than its replicas'.</summary>
    OlderData,
}
