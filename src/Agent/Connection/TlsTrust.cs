using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RedisAgent.Connection;

/// <summary>
/// Whom the agent trusts on a TLS connection (<c>rediss://</c>, a <c>tls://</c> syslog drain): the system's roots by default, a
/// private CA (<c>Redis:TlsCaFile</c>, <c>Logs:Syslog:TlsCaFile</c>), or exactly one pinned server
/// certificate (<c>...:TlsCertificateSha256</c>). There is no "trust anything" setting: a server
/// with a self-signed certificate is pinned, not waved through.
/// </summary>
internal sealed class TlsTrust
{
    private readonly X509Certificate2Collection? _roots;
    private readonly byte[]? _pinnedSha256;

    private TlsTrust(X509Certificate2Collection? roots, byte[]? pinnedSha256)
    {
        _roots = roots;
        _pinnedSha256 = pinnedSha256;
    }

    public static TlsTrust System { get; } = new(null, null);

    public static TlsTrust Create(string? caFile, string? sha256)
    {
        if (!string.IsNullOrWhiteSpace(sha256))
        {
            return new TlsTrust(null, ParseFingerprint(sha256) ?? throw new FormatException("not a SHA-256 fingerprint"));
        }

        if (!string.IsNullOrWhiteSpace(caFile))
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(caFile);
            return roots.Count > 0 ? new TlsTrust(roots, null) : throw new FormatException("holds no PEM certificate");
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

    public bool Validate(X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return false;
        }

        if (_pinnedSha256 is not null)
        {
            // The pin is the whole trust decision: name and chain do not matter for a pinned key.
            return CryptographicOperations.FixedTimeEquals(SHA256.HashData(certificate.GetRawCertData()), _pinnedSha256);
        }

        if (_roots is null)
        {
            return errors == SslPolicyErrors.None;
        }

        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }

    public RemoteCertificateValidationCallback Callback => (_, certificate, _, errors) => Validate(certificate, errors);
}
