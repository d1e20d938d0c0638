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
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));

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

    public void Dispose() => _directory.Dispose();
}
