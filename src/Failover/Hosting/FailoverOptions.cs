using RedisFailover.Coordination;

namespace RedisFailover.Hosting;

/// <summary>The coordinator's settings. Section <c>Failover</c>.</summary>
internal sealed class FailoverOptions
{
    public const string Section = "Failover";

    /// <summary>The confirmation window: the primary's host must be unreachable from a quorum for this long.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Time between two rounds of probes within the window.</summary>
    public TimeSpan RoundInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Vantage agents (nodes other than the primary) that must see the host unreachable in each round; default all of them.</summary>
    public int? Quorum { get; set; }

    /// <summary>A replica this far behind (bytes of replication stream) or less is in sync.</summary>
    public long MaxSyncLagBytes { get; set; } = 1024 * 1024;

    /// <summary>Shared secret agents and operators present (<c>authorization: Bearer ...</c>). Required.</summary>
    public string? Token { get; set; }

    /// <summary>
    /// Where <c>GET /metrics</c> (Prometheus, HTTP/1.1) listens, e.g. <c>http://127.0.0.1:9381</c>;
    /// unset: no metrics endpoint. Its own address: <c>Urls</c> speaks only HTTP/2 (gRPC).
    /// </summary>
    public string? MetricsUrl { get; set; }

    /// <summary>An agent's stream that has not registered within this is ended.</summary>
    public TimeSpan RegistrationDeadline { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Where terms and the journal are kept.</summary>
    public string? StoreDirectory { get; set; }

    public FailoverPolicy Policy => new(Window, RoundInterval, Quorum, MaxSyncLagBytes, TimeSpan.FromSeconds(5));
}

/// <summary>One resource: its nodes, its settings, where its primary is published. Section <c>Resources:N</c>.</summary>
internal sealed class ResourceOptions
{
    public string? Name { get; set; }

    public List<NodeOptions> Nodes { get; set; } = [];

    /// <summary>Redis's <c>timeout</c>, kept on every node across restarts and failovers.</summary>
    public long? Timeout { get; set; }

    /// <summary>Redis's <c>maxmemory-policy</c>, kept likewise.</summary>
    public string? MaxmemoryPolicy { get; set; }

    /// <summary>A file rewritten atomically with <c>REDIS_URL=redis://host:port</c> whenever the primary changes.</summary>
    public string? UrlFile { get; set; }

    /// <summary>The URL file's mode, octal (default <c>0644</c>: applications run as other users; use <c>0640</c> with <see cref="UrlFileGroup"/> to narrow it).</summary>
    public string? UrlFileMode { get; set; }

    /// <summary>The URL file's group (a name or a number): the applications' group, with <c>UrlFileMode=0640</c>.</summary>
    public string? UrlFileGroup { get; set; }

    public const UnixFileMode DefaultUrlFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary><see cref="UrlFileMode"/> parsed; null when unset or not an octal mode (validation names it).</summary>
    public UnixFileMode? UrlFileUnixMode =>
        UrlFileMode is { Length: > 0 } text && text.All(c => c is >= '0' and <= '7') && text.Length <= 4 && Convert.ToInt32(text, 8) is var value && value <= 0x1FF
            ? (UnixFileMode)value
            : null;

    /// <summary>A command (<c>/bin/sh -c</c>) run with <c>REDIS_URL</c> in its environment whenever the primary changes.</summary>
    public string? PublishCommand { get; set; }
}

internal sealed class NodeOptions
{
    public string? Name { get; set; }

    /// <summary>host:port of the node's Redis.</summary>
    public string? Address { get; set; }

    public string Zone { get; set; } = "";
}

internal sealed class ResourcesOptions
{
    public const string Section = "Resources";

    public List<ResourceOptions> Items { get; } = [];
}
