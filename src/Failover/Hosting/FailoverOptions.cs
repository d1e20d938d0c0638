using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using RedisFailover.Coordination;

namespace RedisFailover.Hosting;

/// <summary>The coordinator's settings. Section <c>Failover</c>.</summary>
internal sealed class FailoverOptions
{
    public const string Section = "Failover";

    /// <summary>
    /// The most connections the gRPC endpoints (agents, the CLI, other callers) hold open at once; one
    /// more is closed as it comes. Each carries up to 100 agents' streams. Held, with
    /// <c>Sentinel:MaxConnections</c>, below the open-file limit.
    /// </summary>
    public int MaxConnections { get; set; } = 10_000;

    /// <summary>
    /// The most of those connections one client (an IPv4 address, an IPv6 /64) holds open at once; one
    /// more is closed as it comes (a refused call). So one address holding idle connections cannot take
    /// every connection the agents need to reach their coordinator.
    /// </summary>
    public int MaxConnectionsPerClient { get; set; } = 1_000;

    /// <summary>The confirmation window: the primary's host must be unreachable from a quorum for this long.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Time between two rounds of probes within the window.</summary>
    public TimeSpan RoundInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Vantage agents (nodes other than the primary) that must see the host unreachable in each round; default all of them.</summary>
    public int? Quorum { get; set; }

    /// <summary>A replica this far behind (bytes of replication stream) or less is in sync.</summary>
    public long MaxSyncLagBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// The legacy shared secret (<c>authorization: Bearer ...</c>): whoever holds it is any node's
    /// agent and admin. Required unless <see cref="CredentialsFile"/> is set; logged as a warning.
    /// </summary>
    public string? Token { get; set; }

    /// <summary>Every caller with its own credential and role (agent bound to one node, read, admin): see <see cref="Trust.Credentials"/>.</summary>
    public string? CredentialsFile { get; set; }

    /// <summary>The coordinator's TLS files. Section <c>Failover:Tls</c>.</summary>
    public Trust.TlsOptions Tls { get; set; } = new();

    /// <summary>Allows <c>http://</c> (no TLS) in <c>Urls</c> on an address other than loopback: tokens then cross the network in clear text.</summary>
    public bool AllowInsecureHttp { get; set; }

    /// <summary>
    /// Where <c>GET /metrics</c> (Prometheus, HTTP/1.1) listens, e.g. <c>http://127.0.0.1:9381</c>;
    /// unset: no metrics endpoint. Its own address: <c>Urls</c> speaks only HTTP/2 (gRPC).
    /// </summary>
    public string? MetricsUrl { get; set; }

    /// <summary>
    /// Where the read-only web dashboard listens (HTTP/1.1), e.g. <c>http://127.0.0.1:9382</c>; unset:
    /// none. Its data needs a <c>read</c> credential, as the Admin API's does.
    /// </summary>
    public string? DashboardUrl { get; set; }

    /// <summary>One point of the dashboard's plan-limit charts per this much time (the highest use in it); 24 hours are kept.</summary>
    public TimeSpan DashboardResolution { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>An agent's stream that has not registered within this is ended.</summary>
    public TimeSpan RegistrationDeadline { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Where terms and the journal are kept (the <c>file</c> store).</summary>
    public string? StoreDirectory { get; set; }

    /// <summary><c>file</c> (default: one coordinator, its state in <see cref="StoreDirectory"/>) or <c>etcd</c> (several coordinators, one leading, state and leadership in etcd).</summary>
    public string Store { get; set; } = "file";

    /// <summary>The etcd store's settings. Section <c>Failover:Etcd</c>.</summary>
    public EtcdOptions Etcd { get; set; } = new();

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

    /// <summary>The ACL user applications log in as, put in the published URL (unset: Redis's default user).</summary>
    public string? User { get; set; }

    /// <summary>A file holding the password applications log in with, put in the published URL (read at each publication, so it can be rotated).</summary>
    public string? PasswordFile { get; set; }

    /// <summary>The nodes serve TLS at their addresses: the published URL is <c>rediss://</c>.</summary>
    public bool Tls { get; set; }

    /// <summary>The database number put in the published URL (unset: none, database 0).</summary>
    public int? Database { get; set; }

    /// <summary>The mode the URL file gets: <see cref="UrlFileMode"/>, else 0640 when it holds a password (readable by <see cref="UrlFileGroup"/> only), else 0644.</summary>
    public UnixFileMode EffectiveUrlFileMode =>
        UrlFileUnixMode ?? (PasswordFile is { Length: > 0 } ? DefaultUrlFileMode & ~UnixFileMode.OtherRead : DefaultUrlFileMode);

    /// <summary>The URL applications use to reach <paramref name="address"/> (host:port): scheme, credentials, database, like Heroku's <c>REDIS_URL</c>.</summary>
    public string UrlFor(string address, bool? tls = null)
    {
        var password = PasswordFile is { Length: > 0 } file ? File.ReadAllText(file).TrimEnd('\r', '\n') : null;
        var credentials = (User, password) switch
        {
            (null or "", null) => "",
            (null or "", _) => $":{Uri.EscapeDataString(password)}@",
            (_, null) => $"{Uri.EscapeDataString(User)}@",
            _ => $"{Uri.EscapeDataString(User)}:{Uri.EscapeDataString(password)}@",
        };
        return $"{(tls ?? Tls ? "rediss" : "redis")}://{credentials}{address}{(Database is { } db ? "/" + db.ToString(CultureInfo.InvariantCulture) : "")}";
    }
}

internal sealed class NodeOptions
{
    public string? Name { get; set; }

    /// <summary>host:port of the node's Redis.</summary>
    public string? Address { get; set; }

    /// <summary>host:port of the same node's TLS port, when it serves both (Heroku's Mini plans): published as <c>REDIS_TLS_URL</c> beside <c>REDIS_URL</c>.</summary>
    public string? TlsAddress { get; set; }

    public string Zone { get; set; } = "";
}

internal sealed class ResourcesOptions
{
    public const string Section = "Resources";

    public List<ResourceOptions> Items { get; } = [];
}

internal sealed class FailoverOptionsValidator : IValidateOptions<FailoverOptions>
{
    /// <summary>Timers overflow past about 49.7 days; no window needs more than a week.</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromDays(7);

    public ValidateOptionsResult Validate(string? name, FailoverOptions options)
    {
        var errors = new List<string>();
        if (options.Window <= TimeSpan.Zero || options.Window > MaxDuration)
        {
            errors.Add($"Failover:Window must be greater than zero and at most {MaxDuration.TotalDays:0} days (got {options.Window}).");
        }

        if (options.RoundInterval <= TimeSpan.Zero || options.RoundInterval > options.Window)
        {
            errors.Add($"Failover:RoundInterval must be greater than zero and at most Failover:Window (got {options.RoundInterval}).");
        }

        if (options.Quorum is < 1)
        {
            errors.Add($"Failover:Quorum must be at least 1 (got {options.Quorum}).");
        }

        if (options.RegistrationDeadline <= TimeSpan.Zero || options.RegistrationDeadline > MaxDuration)
        {
            errors.Add($"Failover:RegistrationDeadline must be greater than zero and at most {MaxDuration.TotalDays:0} days (got {options.RegistrationDeadline}).");
        }

        if (options.MetricsUrl is { Length: > 0 } metricsUrl
            && (!Uri.TryCreate(metricsUrl, UriKind.Absolute, out var metrics) || metrics.Scheme != "http" || metrics.AbsolutePath != "/" || metrics.IsDefaultPort || metrics.Port is < 1 or > 65535))
        {
            errors.Add($"Failover:MetricsUrl '{ResourcesOptionsValidator.Printable(metricsUrl)}' must be http://host:port with a port from 1 to 65535, e.g. http://127.0.0.1:9381.");
        }

        if (options.DashboardUrl is { Length: > 0 } dashboardUrl
            && (!Uri.TryCreate(dashboardUrl, UriKind.Absolute, out var dashboard) || dashboard.Scheme is not ("http" or "https") || dashboard.AbsolutePath != "/" || dashboard.IsDefaultPort || dashboard.Port is < 1 or > 65535))
        {
            errors.Add($"Failover:DashboardUrl '{ResourcesOptionsValidator.Printable(dashboardUrl)}' must be http://host:port or https://host:port with a port from 1 to 65535, e.g. http://127.0.0.1:9382.");
        }
        else if (options.DashboardUrl is { Length: > 0 } plain && plain.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
            && RedisShared.Hosting.Loopback.BeyondLoopback(plain).Any() && !options.AllowInsecureHttp)
        {
            errors.Add($"Failover:DashboardUrl '{ResourcesOptionsValidator.Printable(plain)}' is plain http:// on an address other than loopback: a reader's token would cross the network in clear text. Use https:// (the coordinator's Failover:Tls certificate), or set Failover:AllowInsecureHttp=true to accept that.");
        }

        if (options.DashboardResolution < TimeSpan.FromSeconds(1) || options.DashboardResolution > TimeSpan.FromMinutes(10))
        {
            errors.Add($"Failover:DashboardResolution must be from 1 second to 10 minutes (got {options.DashboardResolution}).");
        }

        if (options.RoundInterval > MaxDuration)
        {
            errors.Add($"Failover:RoundInterval must be at most {MaxDuration.TotalDays:0} days (got {options.RoundInterval}).");
        }

        if (options.MaxConnections is < 1 or > 1_000_000)
        {
            errors.Add($"Failover:MaxConnections must be 1 to 1000000 (got {options.MaxConnections}).");
        }

        if (options.MaxConnectionsPerClient is < 1 or > 1_000_000)
        {
            errors.Add($"Failover:MaxConnectionsPerClient must be 1 to 1000000 (got {options.MaxConnectionsPerClient}).");
        }

        if (options.MaxSyncLagBytes < 0)
        {
            errors.Add("Failover:MaxSyncLagBytes must not be negative.");
        }

        if (options.Store is not ("file" or "etcd"))
        {
            errors.Add($"Failover:Store must be 'file' or 'etcd' (got '{ResourcesOptionsValidator.Printable(options.Store ?? "")}').");
        }
        else
        {
            // Every value given is checked, even for the store not in use: a typo is named today, not on the day it is switched on.
            errors.AddRange(options.Etcd.Problems(inUse: options.Store == "etcd"));
        }

        if (options.Token is { Length: > 0 } && options.Token.Length < 16)
        {
            errors.Add("Failover:Token must be at least 16 characters (a shared secret agents and operators present).");
        }

        if (options.CredentialsFile is { Length: > 0 } credentials)
        {
            try
            {
                Trust.Credentials.Parse(File.ReadAllText(credentials), credentials);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
            {
                errors.Add($"Failover:CredentialsFile cannot be used: {ex.Message}");
            }
        }
        else if (options.Token is not { Length: > 0 })
        {
            errors.Add("Failover:CredentialsFile (a credential per agent and operator, docs/security.md) or Failover:Token (one shared secret of at least 16 characters) is required.");
        }

        errors.AddRange(options.Tls.Problems());

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

internal sealed partial class ResourcesOptionsValidator(IOptions<FailoverOptions> failover) : IValidateOptions<ResourcesOptions>
{
    public ValidateOptionsResult Validate(string? name, ResourcesOptions options)
    {
        var errors = new List<string>();
        var quorum = failover.Value.Quorum;
        if (options.Items.Count == 0)
        {
            errors.Add("Resources: at least one resource is required (Resources:0:Name, Resources:0:Nodes:0:Name and :Address...).");
        }

        for (var i = 0; i < options.Items.Count; i++)
        {
            var resource = options.Items[i];
            if (string.IsNullOrWhiteSpace(resource.Name))
            {
                errors.Add($"Resources:{i}:Name is required.");
            }

            if (resource.Nodes.Count < 2)
            {
                errors.Add($"Resources:{i}:Nodes needs at least two nodes (a primary and a standby).");
            }

            for (var j = 0; j < resource.Nodes.Count; j++)
            {
                var node = resource.Nodes[j];
                if (string.IsNullOrWhiteSpace(node.Name))
                {
                    errors.Add($"Resources:{i}:Nodes:{j}:Name is required.");
                }

                if (!IsAddress(node.Address))
                {
                    errors.Add($"Resources:{i}:Nodes:{j}:Address must be host:port (got '{Printable(node.Address ?? "")}'), the port from 1 to 65535.");
                }

                if (node.TlsAddress is { Length: > 0 } tlsAddress && !IsAddress(tlsAddress))
                {
                    errors.Add($"Resources:{i}:Nodes:{j}:TlsAddress must be host:port (got '{Printable(tlsAddress)}'), the port from 1 to 65535.");
                }

                if (node.Name is { Length: > 0 } nodeName && !IsNodeName(nodeName))
                {
                    errors.Add($"Resources:{i}:Nodes:{j}:Name '{Printable(nodeName)}' must be 1 to 64 letters, digits, '-', '_' or '.'.");
                }
            }

            if (quorum is { } q && q > resource.Nodes.Count - 1 && resource.Nodes.Count >= 2)
            {
                errors.Add($"Failover:Quorum {q} is more than resource {Printable(resource.Name ?? i.ToString(System.Globalization.CultureInfo.InvariantCulture))}'s {resource.Nodes.Count - 1} vantage nodes (every node but the primary): no loss could ever be confirmed.");
            }

            if (resource.Nodes.GroupBy(n => n.Name).Any(g => g.Count() > 1))
            {
                errors.Add($"Resources:{i}:Nodes: node names must be unique.");
            }

            if (resource.Timeout is < 0 or > MaxTimeoutSeconds)
            {
                errors.Add($"Resources:{i}:Timeout must be 0 (never) to {MaxTimeoutSeconds} seconds (got {resource.Timeout}).");
            }

            if (resource.MaxmemoryPolicy is { } policy && !MaxmemoryPolicies.Contains(policy))
            {
                errors.Add($"Resources:{i}:MaxmemoryPolicy '{Printable(policy)}' is not one of {string.Join(", ", MaxmemoryPolicies)}.");
            }

            if (resource.Name is { Length: > 0 } resourceName && !ResourceName().IsMatch(resourceName))
            {
                errors.Add($"Resources:{i}:Name '{Printable(resourceName)}' must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' (it names files in the store).");
            }

            if (resource.UrlFileMode is { Length: > 0 } && resource.UrlFileUnixMode is null)
            {
                errors.Add($"Resources:{i}:UrlFileMode '{Printable(resource.UrlFileMode)}' must be an octal file mode such as 0644 or 0640.");
            }

            if (resource.UrlFileGroup is { Length: > 0 } group && UnixGroup.Resolve(group) is null)
            {
                errors.Add($"Resources:{i}:UrlFileGroup '{Printable(group)}' is not a group on this machine.");
            }

            if (resource.PasswordFile is { Length: > 0 } passwordFile)
            {
                try
                {
                    if (File.ReadAllText(passwordFile).TrimEnd('\r', '\n').Length == 0)
                    {
                        errors.Add($"Resources:{i}:PasswordFile '{Printable(passwordFile)}' is empty.");
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    errors.Add($"Resources:{i}:PasswordFile '{Printable(passwordFile)}' cannot be read: {ex.Message}");
                }

                if (resource.UrlFileUnixMode is { } mode && (mode & UnixFileMode.OtherRead) != 0)
                {
                    errors.Add($"Resources:{i}:UrlFileMode {resource.UrlFileMode} lets every user of the machine read the URL file, which holds the password: use 0640 with Resources:{i}:UrlFileGroup (the applications' group).");
                }
            }

            if (resource.Database is < 0 or > 100_000)
            {
                errors.Add($"Resources:{i}:Database must be 0 or more (got {resource.Database}).");
            }

            if (resource.UrlFile is { Length: > 0 } urlFile && UrlFileProblem(urlFile) is { } problem)
            {
                errors.Add($"Resources:{i}:UrlFile '{Printable(urlFile)}' cannot be written: {problem}.");
            }
        }

        if (options.Items.GroupBy(r => r.Name).Any(g => g.Count() > 1))
        {
            errors.Add("Resources: resource names must be unique.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Redis's own bound for <c>timeout</c> (an int of seconds).</summary>
    public const long MaxTimeoutSeconds = int.MaxValue;

    /// <summary>A node's name as configuration allows it (also for <c>nodes add</c>).</summary>
    public static bool IsNodeName(string? name) => name is { Length: > 0 } && ResourceName().IsMatch(name);

    /// <summary>host:port with a port from 1 to 65535 (a node's Redis address).</summary>
    public static bool IsAddress(string? address) =>
        address is { Length: > 0 and <= 300 } && !address.Any(char.IsControl) && FailoverHost.HostPort().IsMatch(address)
        && int.TryParse(address[(address.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535;

    /// <summary>The eight policies the seed's plans offer (<c>heroku redis:maxmemory --policy</c>).</summary>
    public static readonly string[] MaxmemoryPolicies =
        ["noeviction", "allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu", "allkeys-random", "volatile-random", "volatile-ttl"];

    /// <summary>A value as it may appear in one line of an error.</summary>
    internal static string Printable(string value) => RedisShared.Hosting.Quoted.Printable(value);

    /// <summary>Why the URL file cannot be written, or null: its directory must exist and take a new file.</summary>
    private static string? UrlFileProblem(string file)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(file));
        if (directory is null || !Directory.Exists(directory))
        {
            return $"its directory '{directory}' does not exist";
        }

        var probe = Path.Combine(directory, $".{Path.GetFileName(file)}.write-test");
        try
        {
            File.WriteAllText(probe, "");
            File.Delete(probe);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ex.Message;
        }
    }

    [GeneratedRegex(@"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex ResourceName();
}
