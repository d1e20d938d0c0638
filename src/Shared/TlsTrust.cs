using RedisShared.Security;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RedisShared.Security;

/// <summary>
/// Whom the agent trusts on a TLS connection (<c>rediss://</c>, a <c>tls://</c> syslog drain): the system's roots by default, a
/// private CA (<c>Redis:TlsCaFile</c>, <c>Logs:Syslog:TlsCaFile</c>), or exactly one pinned server
/// certificate (<c>...:TlsCertificateSha256</c>). There is no "trust anything" setting: a server
/// with a self-signed certificate is pinned, not waved through.
/// </summary>
internal sealed class TlsTrust
{
    /// <summary>The trust's files, for messages: a CA file, a pin, or the system's roots.</summary>
    private readonly string _source;

    private readonly X509Certificate2Collection? _roots;
    private readonly byte[]? _pinnedSha256;

    private TlsTrust(X509Certificate2Collection? roots, byte[]? pinnedSha256, string source)
    {
        _roots = roots;
        _pinnedSha256 = pinnedSha256;
        _source = source;
    }

    public static TlsTrust System { get; } = new(null, null, "the system's trusted roots");

    /// <summary>
    /// Trust in a pinned certificate (<paramref name="sha256"/>), else the CA(s) in
    /// <paramref name="caFile"/>, else the system's roots. <paramref name="label"/> names the CA in
    /// refusals instead of its file (for a refusal told to a caller the file's path is not theirs to know).
    /// </summary>
    public static TlsTrust Create(string? caFile, string? sha256, string? label = null)
    {
        if (!string.IsNullOrWhiteSpace(sha256))
        {
            return new TlsTrust(null, ParseFingerprint(sha256) ?? throw new FormatException("not a SHA-256 fingerprint"), "the pinned certificate");
        }

        if (!string.IsNullOrWhiteSpace(caFile))
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(caFile);
            return roots.Count > 0 ? new TlsTrust(roots, null, label ?? $"the CA in '{caFile}'") : throw new FormatException("holds no PEM certificate");
        }

        return System;
    }

    /// <summary>64 hex digits, with or without colons; null when it is not one.</summary>
    public static byte[]? ParseFingerprint(string text)
    {
        var hex = text.Replace(":", "", StringComparison.Ordinal).Trim();
        if (hex.Length != 64)
        {
            return null;
        }

        try
        {
            return Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    public bool Validate(X509Certificate? certificate, SslPolicyErrors errors) => Problem(certificate, errors) is null;

    /// <summary>
    /// Why <paramref name="certificate"/> is not trusted, in words an operator can act on (expired,
    /// not yet valid, signed by another CA, issued for another name, revoked, not the pinned one);
    /// null when it is trusted.
    /// </summary>
    public string? Problem(X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return "no certificate was presented";
        }

        using var leaf = new X509Certificate2(certificate);
        if (_pinnedSha256 is not null)
        {
            // The pin is the whole trust decision: name and chain do not matter for a pinned key.
            return CryptographicOperations.FixedTimeEquals(SHA256.HashData(leaf.RawData), _pinnedSha256)
                ? null
                : $"its certificate ({leaf.Subject}, SHA-256 {Convert.ToHexString(SHA256.HashData(leaf.RawData))}) is not the pinned one";
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (_roots is not null)
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(_roots);
        }

        var built = chain.Build(leaf);
        if (Expiry(leaf, chain) is { } time)
        {
            return time;
        }

        if (!built && (_roots is not null || (errors & SslPolicyErrors.RemoteCertificateChainErrors) != 0))
        {
            var statuses = chain.ChainStatus.Select(s => s.Status).ToHashSet();
            if (statuses.Contains(X509ChainStatusFlags.Revoked))
            {
                return $"its certificate ({leaf.Subject}) is revoked";
            }

            return $"its certificate ({leaf.Subject}, issued by {leaf.Issuer}) is not signed by {_source} ({string.Join(", ", statuses)})";
        }

        if (_roots is null && (errors & SslPolicyErrors.RemoteCertificateChainErrors) != 0)
        {
            return $"its certificate ({leaf.Subject}, issued by {leaf.Issuer}) is not signed by {_source}";
        }

        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            var names = leaf.Extensions.OfType<X509SubjectAlternativeNameExtension>().SelectMany(e => e.EnumerateDnsNames().Concat(e.EnumerateIPAddresses().Select(a => a.ToString())));
            return $"its certificate is issued for {leaf.Subject} ({string.Join(", ", names)}), not for the address dialled";
        }

        return null;
    }

    /// <summary>"expired on ..." or "not valid before ..." for the leaf or a certificate of its chain; null when every one is in date.</summary>
    private static string? Expiry(X509Certificate2 leaf, X509Chain chain)
    {
        var now = DateTime.Now;
        foreach (var certificate in chain.ChainElements.Select(e => e.Certificate).DefaultIfEmpty(leaf))
        {
            var which = certificate.Thumbprint == leaf.Thumbprint ? "its certificate" : $"its issuer's certificate ({certificate.Subject})";
            if (certificate.NotAfter < now)
            {
                return $"{which} expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss}Z";
            }

            if (certificate.NotBefore > now)
            {
                return $"{which} is not valid before {certificate.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm:ss}Z";
            }
        }

        return null;
    }

    public RemoteCertificateValidationCallback Callback => (_, certificate, _, errors) => Validate(certificate, errors);
}
