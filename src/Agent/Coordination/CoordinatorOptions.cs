namespace RedisAgent.Coordination;

/// <summary>The link to redis-failover. Section <c>Coordinator</c>; without <c>Url</c> the agent works alone.</summary>
internal sealed class CoordinatorOptions
{
    public const string Section = "Coordinator";

    /// <summary>The coordinator's address, e.g. <c>http://127.0.0.1:9380</c>.</summary>
    public string? Url { get; set; }

    /// <summary>The shared token (<c>Failover:Token</c> on the coordinator).</summary>
    public string? Token { get; set; }

    /// <summary>The resource this node belongs to, as the coordinator names it.</summary>
    public string? Resource { get; set; }

    /// <summary>Where this node is (a zone, a rack): shown in the journal beside each vantage's answer.</summary>
    public string Zone { get; set; } = "";

    /// <summary>How often the agent reports its node and its observations.</summary>
    public TimeSpan ReportInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// When set, an agent that has heard neither the coordinator nor any peer for this long fences
    /// its own node if it is a primary (writes refused), so that a primary cut off from everyone
    /// stops taking writes before the coordinator's window ends and promotes another. Lifted only
    /// on the coordinator's word.
    /// </summary>
    public TimeSpan? SelfFenceAfter { get; set; }
}
