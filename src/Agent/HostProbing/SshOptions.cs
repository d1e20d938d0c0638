using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.Hosting;
using RedisShared.Hosting;

namespace RedisAgent.HostProbing;

/// <summary>
/// How to reach a node's host over SSH. Section <c>Ssh</c> for the agent's own node, and
/// <c>Peers:N:Ssh</c> for a peer, whose unset fields fall back to the <c>Ssh</c> section's.
/// </summary>
internal sealed class SshOptions
{
    public const string Section = "Ssh";

    /// <summary>The host to reach; default: the host of the node's Redis URL.</summary>
    public string? Host { get; set; }

    public int? Port { get; set; }

    /// <summary>The user to log in as; default: the user the agent runs as.</summary>
    public string? User { get; set; }

    /// <summary>Private key (OpenSSH or PEM format; ed25519, ECDSA or RSA). Setting it turns host probes on.</summary>
    public string? KeyFile { get; set; }

    /// <summary>The host key's SHA-256 fingerprint as <c>ssh-keygen -lf</c> prints it (<c>SHA256:...</c>). Either this or a known_hosts file pins the host.</summary>
    public string? HostKeySha256 { get; set; }

    /// <summary>An OpenSSH known_hosts file that must list the host (plain or hashed names; <c>[host]:port</c> for other ports).</summary>
    public string? KnownHostsFile { get; set; }

    /// <summary>
    /// Run on the host at each probe (through the user's login shell). Exit 0: the host is fine; another
    /// code: the host answers but the check fails. Unset (the default): nothing runs; sshd's answer to
    /// the authentication and to a bare channel is the proof, and costs the host no process.
    /// </summary>
    public string? CheckCommand { get; set; }

    /// <summary>TCP connect, key exchange and authentication must finish within this.</summary>
    public TimeSpan? ConnectTimeout { get; set; }

    /// <summary>The check command must finish within this.</summary>
    public TimeSpan? CommandTimeout { get; set; }

    /// <summary>
    /// Time between host probes while all is well. Each probe makes the host start a process (measured
    /// at 85 ms of sshd CPU on a small VM), so this is slower than the port's interval; a silent
    /// port wakes the host probe at once, and an unsettled host verdict is probed at the retry interval.
    /// </summary>
    public TimeSpan? Interval { get; set; }

    /// <summary>Keep one SSH session open between probes (a channel per probe) instead of a new connection each time.</summary>
    public bool? KeepSession { get; set; }

    /// <summary>These options with unset fields taken from <paramref name="defaults"/>, then from built-in defaults.</summary>
    public ResolvedSsh Resolve(SshOptions? defaults, string redisHost) => new(
        Host ?? defaults?.Host ?? redisHost,
        Port ?? defaults?.Port ?? 22,
        User ?? defaults?.User ?? Environment.UserName,
        KeyFile ?? defaults?.KeyFile ?? "",
        HostKeySha256,
        KnownHostsFile ?? defaults?.KnownHostsFile,
        string.IsNullOrWhiteSpace(CheckCommand) ? string.IsNullOrWhiteSpace(defaults?.CheckCommand) ? null : defaults.CheckCommand : CheckCommand,
        ConnectTimeout ?? defaults?.ConnectTimeout ?? TimeSpan.FromSeconds(2),
        CommandTimeout ?? defaults?.CommandTimeout ?? TimeSpan.FromSeconds(2),
        KeepSession ?? defaults?.KeepSession ?? true,
        Interval ?? defaults?.Interval ?? TimeSpan.FromSeconds(5));
}

/// <summary>SSH settings with every default applied; <see cref="Key"/> is the configuration path, for messages.</summary>
internal sealed record ResolvedSsh(
    string Host,
    int Port,
    string User,
    string KeyFile,
    string? HostKeySha256,
    string? KnownHostsFile,
    string? CheckCommand,
    TimeSpan ConnectTimeout,
    TimeSpan CommandTimeout,
    bool KeepSession,
    TimeSpan Interval)
{
    public string Address => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}

/// <summary>The agent's own host probe (<c>Ssh</c>), checked when a key file turns it on.</summary>
internal sealed class SshOptionsValidator(IOptions<RedisOptions> redis) : IValidateOptions<HostProbing.SshOptions>
{
    public ValidateOptionsResult Validate(string? name, HostProbing.SshOptions options)
    {
        var errors = new ConfigErrors();
        // Durations are checked even while SSH is off: a peer inherits them.
        foreach (var (key, value) in new[] { ("ConnectTimeout", options.ConnectTimeout), ("CommandTimeout", options.CommandTimeout), ("Interval", options.Interval) })
        {
            if (value is { } duration)
            {
                errors.Positive($"{HostProbing.SshOptions.Section}:{key}", duration);
            }
        }

        if (string.IsNullOrWhiteSpace(options.KeyFile) || !RedisEndpoint.TryParse(redis.Value.Url, out var endpoint, out _))
        {
            return errors.Result();
        }

        HostProbing.HostProbeFactory.Validate(errors, HostProbing.SshOptions.Section, options.Resolve(null, endpoint!.Host));
        return errors.Result();
    }
}

internal static class HostProbingRegistration
{
    /// <summary>Host probing: the Ssh section (the agent's own host probe, validated at start) and the factory of SSH probes.</summary>
    public static IServiceCollection AddHostProbing(this IServiceCollection services, IConfiguration configuration)
    {
        // One Bind call per type, which the configuration binding generator sees.
        services.AddOptionsWithValidateOnStart<SshOptions, SshOptionsValidator>().Bind(configuration.GetSection(SshOptions.Section));
        services.TryAddSingleton<HostProbeFactory>();
        return services;
    }
}
