namespace RedisAgent.Supervision;

/// <summary>How the <c>exec</c> driver runs <c>redis-server</c>. Section <c>Exec</c>.</summary>
internal sealed class ExecOptions
{
    public const string Section = "Exec";

    /// <summary>The server binary: a path, or a name looked up on PATH (and /usr/sbin, /usr/bin).</summary>
    public string Path { get; set; } = "redis-server";

    /// <summary>
    /// A redis.conf to start with. Without one the agent writes its own into the state directory,
    /// binding to the host and port of the Redis URL and keeping data beside it.
    /// </summary>
    public string? ConfigFile { get; set; }

    /// <summary>Extra arguments after the config file, e.g. <c>["--save", "", "--appendonly", "yes"]</c>.</summary>
    public List<string> Arguments { get; set; } = [];

    /// <summary>On agent stop: how long Redis gets after SIGTERM (to save) before SIGKILL.</summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Install the Debian package <c>redis-server</c> when the binary is missing and the agent runs as
    /// root. Unset means: only in the embedded default (no Redis URL configured).
    /// </summary>
    public bool? InstallIfMissing { get; set; }

    /// <summary>For a <c>rediss://</c> node in the generated redis.conf: the server's certificate (PEM), served on the URL's port (<c>tls-port</c>; no plain port).</summary>
    public string? TlsCertFile { get; set; }

    /// <summary>Its private key (PEM).</summary>
    public string? TlsKeyFile { get; set; }

    /// <summary>The CA (PEM) that signed the other nodes' certificates: a replica verifies its primary with it (<c>tls-replication yes</c>).</summary>
    public string? TlsCaFile { get; set; }
}
