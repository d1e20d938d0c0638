using System.Net;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;

namespace RedisAgent.Hosting;

/// <summary>The agent itself. Section <c>Agent</c>.</summary>
internal sealed class AgentOptions
{
    public const string Section = "Agent";

    /// <summary>
    /// Where the agent keeps its files (the exec driver's redis.conf and data). Default:
    /// <c>$STATE_DIRECTORY</c> (systemd's StateDirectory=), else /var/lib/redis-agent as root,
    /// else <c>$XDG_STATE_HOME/redis-agent</c> (~/.local/state/redis-agent).
    /// </summary>
    public string? StateDirectory { get; set; }

    /// <summary>This node's name in logs and reports; default: the machine's host name.</summary>
    public string? NodeName { get; set; }

    /// <summary>
    /// The local address the agent's connections to other hosts leave from (its probes of peers and
    /// its link to the coordinator), e.g. the host's address on the network Redis replicates over:
    /// then a partition that cuts the host off cuts the agent off too, as it cuts Redis off.
    /// Unset: the kernel chooses.
    /// </summary>
    public string? SourceAddress { get; set; }

    /// <summary><see cref="SourceAddress"/> parsed (validated at start). A method, not a property: the configuration binder must not try to fill it.</summary>
    public System.Net.IPAddress? Source() => string.IsNullOrWhiteSpace(SourceAddress) ? null : System.Net.IPAddress.Parse(SourceAddress);

    public string ResolveStateDirectory()
    {
        if (!string.IsNullOrWhiteSpace(StateDirectory))
        {
            return Path.GetFullPath(StateDirectory);
        }

        if (Environment.GetEnvironmentVariable("STATE_DIRECTORY") is { Length: > 0 } systemd)
        {
            return systemd.Split(':')[0];
        }

        if (Environment.IsPrivilegedProcess)
        {
            return "/var/lib/redis-agent";
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        var root = string.IsNullOrEmpty(xdg)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state")
            : xdg;
        return Path.Combine(root, "redis-agent");
    }
}

/// <summary>
/// The node the agent watches. <c>REDIS_URL</c> wins over <c>Redis:Url</c>; with neither, the agent
/// runs the embedded default: its own redis-server on 127.0.0.1:6379.
/// </summary>
internal sealed class RedisOptions
{
    public const string Section = "Redis";
    public const string EnvironmentVariable = "REDIS_URL";
    public const string EmbeddedUrl = "redis://127.0.0.1:6379";

    public string? Url { get; set; }

    /// <summary>For <c>rediss://</c>: a PEM file of the CA(s) that signed the server's certificate, instead of the system's roots.</summary>
    public string? TlsCaFile { get; set; }

    /// <summary>For <c>rediss://</c>: the SHA-256 fingerprint of the server's certificate (hex, colons optional). When set, it alone decides trust.</summary>
    public string? TlsCertificateSha256 { get; set; }

    /// <summary>The key the URL came from, for error messages.</summary>
    public string Source { get; internal set; } = "Redis:Url";

    /// <summary>True when no URL was configured and the embedded default applies.</summary>
    public bool Embedded { get; internal set; }
}

internal sealed class RedisOptionsValidator : IValidateOptions<RedisOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisOptions options)
    {
        var errors = new ConfigErrors();
        errors.Require(RedisEndpoint.TryParse(options.Url, out _, out var error), $"{options.Source} {error}.");
        if (options.TlsCertificateSha256 is { Length: > 0 } pin)
        {
            errors.Require(TlsTrust.ParseFingerprint(pin) is not null,
                "Redis:TlsCertificateSha256 must be 64 hex digits (colons allowed), e.g. the output of 'openssl x509 -noout -fingerprint -sha256'.");
        }

        if (options.TlsCaFile is { Length: > 0 } caFile)
        {
            try
            {
                TlsTrust.Create(caFile, null);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or System.Security.Cryptography.CryptographicException)
            {
                errors.Require(false, $"Redis:TlsCaFile '{caFile}' cannot be used: {ex.Message}");
            }
        }

        return errors.Result();
    }
}

internal sealed class AgentOptionsValidator : IValidateOptions<AgentOptions>
{
    public ValidateOptionsResult Validate(string? name, AgentOptions options)
    {
        var errors = new ConfigErrors();
        if (options.SourceAddress is { Length: > 0 } source)
        {
            errors.Require(IPAddress.TryParse(source, out _), $"Agent:SourceAddress must be an IP address of this host (got '{source}').");
        }

        return errors.Result();
    }
}
