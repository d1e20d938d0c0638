using System.Collections.Concurrent;
using Renci.SshNet;

namespace RedisAgent.HostProbing;

/// <summary>
/// Builds host probes from resolved settings: the host key trust (pin, known_hosts file, or the
/// user's ~/.ssh/known_hosts) and the private key, loaded once per file.
/// </summary>
internal sealed class HostProbeFactory(TimeProvider time) : IDisposable
{
    private readonly ConcurrentDictionary<string, PrivateKeyFile> _keys = new(StringComparer.Ordinal);

    public static string DefaultKnownHosts =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh", "known_hosts");

    public HostProbe Create(ResolvedSsh ssh) =>
        new(ssh, Trust(ssh), _keys.GetOrAdd(ssh.KeyFile, path => new PrivateKeyFile(path)), time);

    public static HostKeyTrust Trust(ResolvedSsh ssh) =>
        ssh.HostKeySha256 is { Length: > 0 } pin ? HostKeyTrust.Pinned(pin)
        : HostKeyTrust.FromKnownHosts(ssh.KnownHostsFile ?? DefaultKnownHosts);

    /// <summary>Adds to <paramref name="errors"/> what is wrong with these settings; <paramref name="prefix"/> is their configuration path.</summary>
    public static void Validate(RedisShared.Hosting.ConfigErrors errors, string prefix, ResolvedSsh ssh)
    {
        errors.Between($"{prefix}:Port", ssh.Port, 1, 65535);
        errors.Positive($"{prefix}:ConnectTimeout", ssh.ConnectTimeout);
        errors.Positive($"{prefix}:CommandTimeout", ssh.CommandTimeout);
        errors.Positive($"{prefix}:Interval", ssh.Interval);
        if (!File.Exists(ssh.KeyFile))
        {
            errors.Require(false, $"{prefix}:KeyFile '{ssh.KeyFile}' does not exist.");
        }
        else
        {
            try
            {
                using var key = new PrivateKeyFile(ssh.KeyFile);
            }
            catch (Exception ex) when (ex is Renci.SshNet.Common.SshException or InvalidOperationException or ArgumentException or FormatException or NotSupportedException)
            {
                errors.Require(false, $"{prefix}:KeyFile '{ssh.KeyFile}' is not a usable private key (unencrypted OpenSSH or PEM, ed25519/ECDSA/RSA): {ex.Message}");
            }
        }

        if (ssh.HostKeySha256 is { Length: > 0 } pin)
        {
            try
            {
                HostKeyTrust.Pinned(pin);
            }
            catch (FormatException ex)
            {
                errors.Require(false, $"{prefix}:HostKeySha256 {ex.Message}.");
            }
        }
        else
        {
            var knownHosts = ssh.KnownHostsFile ?? DefaultKnownHosts;
            errors.Require(File.Exists(knownHosts),
                $"{prefix}:HostKeySha256 or {prefix}:KnownHostsFile is required: the host key of {ssh.Address} must be pinned " +
                $"(no known_hosts file at '{knownHosts}'). Get it with: ssh-keyscan -p {ssh.Port} {ssh.Host} | ssh-keygen -lf -");
        }
    }

    public void Dispose()
    {
        foreach (var key in _keys.Values)
        {
            key.Dispose();
        }
    }
}
