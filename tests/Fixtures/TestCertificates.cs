using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RedisAgent.Testing;

/// <summary>
/// A throwaway CA, a server certificate it signed (for 127.0.0.1, localhost and any other
/// addresses given) and a client certificate (for mutual TLS), as PEM files.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private readonly TempDirectory _directory = new("tls");

    public TestCertificates(params IPAddress[] otherAddresses)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=redis-agent test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        // One clock reading for both: a leaf whose notAfter lands a second past its issuer's is refused.
        var now = DateTimeOffset.UtcNow;
        var ca = _ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverRequest = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        foreach (var address in otherAddresses)
        {
            names.AddIpAddress(address);
        }

        names.AddDnsName("localhost");
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var server = serverRequest.Create(ca, now.AddMinutes(-5), now.AddDays(1).AddMinutes(-1), [1, 2, 3, 4]);

        using var clientKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var clientRequest = new CertificateRequest("CN=redis-failover test client", clientKey, HashAlgorithmName.SHA256);
        clientRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        clientRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var client = clientRequest.Create(ca, now.AddMinutes(-5), now.AddDays(1).AddMinutes(-1), [5, 6, 7, 8]);
        File.WriteAllText(ClientCertificateFile, client.ExportCertificatePem());
        File.WriteAllText(ClientKeyFile, clientKey.ExportPkcs8PrivateKeyPem());

        File.WriteAllText(CaFile, ca.ExportCertificatePem());
        File.WriteAllText(ServerCertificateFile, server.ExportCertificatePem());
        File.WriteAllText(ServerKeyFile, serverKey.ExportPkcs8PrivateKeyPem());
        ServerSha256 = Convert.ToHexString(SHA256.HashData(server.RawData));
    }

    private readonly X509Certificate2 _ca;
    private int _issued = 100;

    /// <summary>A client certificate this CA signs, with <paramref name="commonName"/> as its subject CN (an agent's is resource/node), valid from <paramref name="notBefore"/> to <paramref name="notAfter"/> (default: now, for a day).</summary>
    public (string CertFile, string KeyFile, string Sha256) IssueClient(string commonName, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null) =>
        Issue(BuildName(commonName), "1.3.6.1.5.5.7.3.2", null, notBefore, notAfter);

    /// <summary>A server certificate for 127.0.0.1 this CA signs, valid from <paramref name="notBefore"/> to <paramref name="notAfter"/>: an expired or not-yet-valid one for the tests of refusals.</summary>
    public (string CertFile, string KeyFile, string Sha256) IssueServer(DateTimeOffset notBefore, DateTimeOffset notAfter, string dnsName = "localhost") =>
        Issue(BuildName(dnsName == "localhost" ? "127.0.0.1" : dnsName), "1.3.6.1.5.5.7.3.1", dnsName, notBefore, notAfter);

    private static X500DistinguishedName BuildName(string commonName)
    {
        var name = new X500DistinguishedNameBuilder();
        name.AddCommonName(commonName);
        return name.Build();
    }

    private (string CertFile, string KeyFile, string Sha256) Issue(X500DistinguishedName subject, string usage, string? dnsName, DateTimeOffset? notBefore, DateTimeOffset? notAfter)
    {
        var serial = Interlocked.Increment(ref _issued);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        if (dnsName is not null)
        {
            var names = new SubjectAlternativeNameBuilder();
            if (dnsName == "localhost")
            {
                names.AddIpAddress(IPAddress.Loopback);
            }

            names.AddDnsName(dnsName);
            request.CertificateExtensions.Add(names.Build());
        }

        var now = DateTimeOffset.UtcNow;
        var from = notBefore ?? now.AddMinutes(-5);
        var to = notAfter ?? now.AddDays(1).AddMinutes(-2);
        // The issuer's validity bounds its leaves: clamp into it (an expired leaf is made by its dates, not by its issuer's).
        from = from < _ca.NotBefore ? _ca.NotBefore.ToUniversalTime() : from;
        to = to > _ca.NotAfter ? _ca.NotAfter.ToUniversalTime() : to;
        using var certificate = request.Create(_ca, from, to, BitConverter.GetBytes(serial));
        var certFile = _directory.File($"issued-{serial}.pem");
        var keyFile = _directory.File($"issued-{serial}.key");
        File.WriteAllText(certFile, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return (certFile, keyFile, Convert.ToHexString(SHA256.HashData(certificate.RawData)));
    }

    public string CaFile => _directory.File("ca.pem");

    public string ServerCertificateFile => _directory.File("server.pem");

    public string ServerKeyFile => _directory.File("server.key");

    public string ClientCertificateFile => _directory.File("client.pem");

    public string ClientKeyFile => _directory.File("client.key");

    /// <summary>The server certificate's SHA-256 fingerprint, as hex.</summary>
    public string ServerSha256 { get; }

    /// <summary>redis-server arguments serving TLS only, on the given port.</summary>
    public IReadOnlyList<string> RedisArguments(int port) =>
    [
        "--port", "0", "--tls-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--tls-cert-file", ServerCertificateFile, "--tls-key-file", ServerKeyFile,
        "--tls-ca-cert-file", CaFile, "--tls-auth-clients", "no",
    ];

    public void Dispose()
    {
        _ca.Dispose();
        _directory.Dispose();
    }
}
