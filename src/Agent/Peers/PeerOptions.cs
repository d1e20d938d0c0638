using RedisAgent.HostProbing;

namespace RedisAgent.Peers;

/// <summary>Another node of the same resource that this agent also watches, as a vantage point. An entry of <c>Peers</c>.</summary>
internal sealed class PeerOptions
{
    /// <summary>The peer's name in logs and reports (e.g. its host name).</summary>
    public string? Name { get; set; }

    /// <summary>The peer's Redis, as a URL.</summary>
    public string? Url { get; set; }

    /// <summary>How to reach the peer's host; unset fields come from the <c>Ssh</c> section. No key file anywhere: port probes only.</summary>
    public SshOptions? Ssh { get; set; }
}

/// <summary>The <c>Peers</c> list.</summary>
internal sealed class PeersOptions
{
    public const string Section = "Peers";

    public List<PeerOptions> Items { get; } = [];
}
