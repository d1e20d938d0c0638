using System.Security.Cryptography;
using System.Text;

namespace RedisAgent.HostProbing;

/// <summary>
/// Decides whether a host key is the one expected: a pinned SHA-256 fingerprint, or an entry of an
/// OpenSSH known_hosts file. An unknown or changed key is refused, never learnt: trusting on first
/// use would let whoever answers first define the host.
/// </summary>
internal sealed class HostKeyTrust
{
    private readonly string? _pinnedSha256;
    private readonly IReadOnlyList<KnownHost> _knownHosts;
    private readonly string _source;

    private HostKeyTrust(string? pinnedSha256, IReadOnlyList<KnownHost> knownHosts, string source)
    {
        _pinnedSha256 = pinnedSha256;
        _knownHosts = knownHosts;
        _source = source;
    }

    /// <summary>A pin in the form <c>ssh-keygen -lf</c> prints (<c>SHA256:base64</c>) or the bare base64.</summary>
    public static HostKeyTrust Pinned(string fingerprint)
    {
        var bare = fingerprint.Trim();
        if (bare.StartsWith("SHA256:", StringComparison.Ordinal))
        {
            bare = bare["SHA256:".Length..];
        }

        bare = bare.TrimEnd('=');
        if (bare.Length != 43 || !IsBase64(bare + "="))
        {
            throw new FormatException("is not a SHA-256 host key fingerprint (expected SHA256: and 43 base64 characters, as ssh-keygen -lf prints it)");
        }

        return new HostKeyTrust(bare, [], "the pinned fingerprint");
    }

    public static HostKeyTrust FromKnownHosts(string path) =>
        new(null, KnownHost.ParseFile(path), "known_hosts file " + path);

    /// <summary>Checks a presented key; <paramref name="why"/> says what did not match.</summary>
    public bool Verify(string host, int port, string keyType, byte[] keyBlob, out string? why)
    {
        var presented = Convert.ToBase64String(SHA256.HashData(keyBlob)).TrimEnd('=');
        if (_pinnedSha256 is not null)
        {
            why = presented == _pinnedSha256 ? null : $"host key SHA256:{presented} ({keyType}) is not the pinned SHA256:{_pinnedSha256}";
            return why is null;
        }

        var name = port == 22 ? host : $"[{host}]:{port}";
        var entries = _knownHosts.Where(k => k.Matches(name)).ToList();
        if (entries.Any(k => k.Revoked && k.KeyBlob.AsSpan().SequenceEqual(keyBlob)))
        {
            why = $"host key SHA256:{presented} is marked @revoked in {_source}";
            return false;
        }

        if (entries.Any(k => !k.Revoked && k.KeyType == keyType && k.KeyBlob.AsSpan().SequenceEqual(keyBlob)))
        {
            why = null;
            return true;
        }

        why = entries.Count == 0
            ? $"{name} is not in {_source} (unknown host; add it with ssh-keyscan after checking its fingerprint SHA256:{presented})"
            : $"host key SHA256:{presented} ({keyType}) of {name} differs from {_source}: the key CHANGED, refusing";
        return false;
    }

    private static bool IsBase64(string text)
    {
        Span<byte> buffer = stackalloc byte[64];
        return Convert.TryFromBase64String(text, buffer, out _);
    }

    private sealed record KnownHost(string[] Patterns, string? HashedSalt, string? Hash, string KeyType, byte[] KeyBlob, bool Revoked)
    {
        public bool Matches(string name)
        {
            if (HashedSalt is not null)
            {
                using var hmac = new HMACSHA1(Convert.FromBase64String(HashedSalt));
                return Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes(name))) == Hash;
            }

            return Patterns.Any(p => p.Equals(name, StringComparison.OrdinalIgnoreCase));
        }

        public static List<KnownHost> ParseFile(string path)
        {
            var entries = new List<KnownHost>();
            foreach (var raw in File.ReadAllLines(path))
            {
                var line = raw.Trim();
                if (line.Length == 0 || line[0] == '#')
                {
                    continue;
                }

                var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                var revoked = false;
                if (fields[0].StartsWith('@'))
                {
                    // @cert-authority lines name CAs, not host keys: this agent does not do SSH certificates.
                    if (fields[0] != "@revoked")
                    {
                        continue;
                    }

                    revoked = true;
                    fields = fields[1..];
                }

                if (fields.Length < 3)
                {
                    continue;
                }

                byte[] blob;
                try
                {
                    blob = Convert.FromBase64String(fields[2]);
                }
                catch (FormatException)
                {
                    continue;
                }

                if (fields[0].StartsWith("|1|", StringComparison.Ordinal) && fields[0].Split('|') is [_, _, var salt, var hash])
                {
                    entries.Add(new KnownHost([], salt, hash, fields[1], blob, revoked));
                }
                else
                {
                    entries.Add(new KnownHost(fields[0].Split(','), null, null, fields[1], blob, revoked));
                }
            }

            return entries;
        }
    }
}
