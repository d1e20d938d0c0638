using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisFailover.Hosting;
using RedisShared.Security;

namespace RedisFailover.Trust;

/// <summary>
/// The coordinator's TLS: its certificate and key from PEM files (<c>Failover:Tls:CertFile</c>,
/// <c>KeyFile</c>), read again when either changes (looked at once a second at most, on a
/// handshake), so a renewed certificate is served without a restart; and, with
/// <c>Failover:Tls:ClientCaFile</c>, the check of a client certificate, refused with a line that
/// says why (expired, another CA, revoked).
/// </summary>
internal sealed partial class ServerTls
{
    private static readonly TimeSpan LookEvery = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan VerdictLifetime = TimeSpan.FromMinutes(1);
    private const int MaxVerdicts = 10_000;

    private readonly TlsOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ServerTls> _logger;
    private readonly TlsTrust? _clients;
    private readonly Lock _lock = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (string? Problem, DateTimeOffset Until)> _verdicts = new(StringComparer.Ordinal);
    private X509Certificate2? _certificate;
    private (DateTime, DateTime) _seen;
    private DateTimeOffset _lookedAt;

    public ServerTls(IOptions<FailoverOptions> options, TimeProvider time, ILogger<ServerTls> logger)
    {
        _options = options.Value.Tls;
        _time = time;
        _logger = logger;
        _clients = _options.ClientCaFile is { Length: > 0 } ca ? TlsTrust.Create(ca, null, "the CA the coordinator trusts for clients (Failover:Tls:ClientCaFile)") : null;
        if (_options.CertFile is { Length: > 0 })
        {
            _certificate = Load(_options, out _seen);
            _lookedAt = time.GetUtcNow();
        }
    }

    public bool AsksForClientCertificates => _clients is not null;

    /// <summary>The certificate served now (read again when its files changed).</summary>
    public X509Certificate2? Current
    {
        get
        {
            if (_options.CertFile is not { Length: > 0 })
            {
                return null;
            }

            lock (_lock)
            {
                var now = _time.GetUtcNow();
                if (now - _lookedAt >= LookEvery)
                {
                    _lookedAt = now;
                    try
                    {
                        var seen = Stamp(_options);
                        if (seen != _seen)
                        {
                            _certificate = Load(_options, out _seen);
                            Log.Reloaded(_logger, _options.CertFile, _certificate.Subject, _certificate.NotAfter.ToUniversalTime());
                        }
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
                    {
                        // Half-written (the certificate renewed before its key)? The old pair serves until both read.
                        _seen = default;
                        Log.ReloadFailed(_logger, _options.CertFile, ex.Message);
                    }
                }

                return _certificate;
            }
        }
    }

    /// <summary>
    /// Kestrel's client certificate check. A refused certificate is logged with its reason, and the
    /// handshake still completes: .NET 10's TLS stack on Linux sends no alert when it refuses a
    /// certificate (the caller would see only a closed connection; dotnet/runtime#115996 brings
    /// alerts in a later release), so the refusal is made on every call instead
    /// (<see cref="ClientProblem"/> through <see cref="Callers.Identify"/>), as gRPC's
    /// <c>Unauthenticated</c> with the reason the caller can act on. Nothing is served to such a
    /// connection that a caller with no certificate at all could not have.
    /// </summary>
    public bool ValidateClient(X509Certificate2 certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (_clients is null)
        {
            return false;
        }

        if (ClientProblem(certificate) is { } problem)
        {
            Log.ClientRefused(_logger, certificate.Subject, problem);
        }

        return true;
    }

    /// <summary>
    /// Why a client certificate is not to be believed (another CA, out of date); null when its chain
    /// reaches <c>Failover:Tls:ClientCaFile</c> and it is in date. Asked at the handshake and again
    /// by every call and every open stream once a second, so the verdict is kept per certificate
    /// for a minute at most, and never past the certificate's own end.
    /// </summary>
    public string? ClientProblem(X509Certificate2 certificate)
    {
        if (_clients is null)
        {
            return "no client certificates are trusted (Failover:Tls:ClientCaFile is not set)";
        }

        var now = _time.GetUtcNow();
        var key = certificate.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256);
        if (_verdicts.TryGetValue(key, out var known) && now < known.Until)
        {
            return known.Problem;
        }

        // The name is the caller's, not a host: only the chain and the dates matter here.
        var problem = _clients.Problem(certificate, SslPolicyErrors.None);
        var until = now + VerdictLifetime;
        if (until > certificate.NotAfter.ToUniversalTime())
        {
            until = certificate.NotAfter.ToUniversalTime();
        }

        if (_verdicts.Count >= MaxVerdicts)
        {
            // A bound on what a flood of distinct certificates can make it hold.
            _verdicts.Clear();
        }

        _verdicts[key] = (problem, until);
        return problem;
    }

    private static (DateTime, DateTime) Stamp(TlsOptions options) =>
        (File.GetLastWriteTimeUtc(options.CertFile!), File.GetLastWriteTimeUtc(options.KeyFile ?? options.CertFile!));

    /// <summary>The pair as Kestrel serves it (on Linux a PEM key is used as it is; exported once so SslStream can use it for every handshake).</summary>
    internal static X509Certificate2 Load(TlsOptions options, out (DateTime, DateTime) seen)
    {
        seen = Stamp(options);
        using var pem = X509Certificate2.CreateFromPemFile(options.CertFile!, options.KeyFile);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2073, Level = LogLevel.Information, Message = "TLS certificate '{File}' read again: {Subject}, valid until {NotAfter:u}")]
        public static partial void Reloaded(ILogger logger, string file, string subject, DateTime notAfter);

        [LoggerMessage(EventId = 2074, Level = LogLevel.Error, Message = "TLS certificate '{File}' cannot be read again ({Reason}): the previous one is still served")]
        public static partial void ReloadFailed(ILogger logger, string file, string reason);

        [LoggerMessage(EventId = 2075, Level = LogLevel.Warning, Message = "a client certificate refused ({Subject}): {Reason}")]
        public static partial void ClientRefused(ILogger logger, string subject, string reason);
    }
}

/// <summary>The coordinator's TLS files. Section <c>Failover:Tls</c>.</summary>
internal sealed class TlsOptions
{
    /// <summary>The coordinator's certificate (PEM; the chain may follow it). Required for an <c>https://</c> address in <c>Urls</c>.</summary>
    public string? CertFile { get; set; }

    /// <summary>Its private key (PEM); unset: in <see cref="CertFile"/>.</summary>
    public string? KeyFile { get; set; }

    /// <summary>The CA (PEM) that signs callers' client certificates; unset: no client certificates are asked for.</summary>
    public string? ClientCaFile { get; set; }

    /// <summary>What is wrong with these settings (files that cannot be read), each naming its key.</summary>
    public IEnumerable<string> Problems()
    {
        if (CertFile is { Length: > 0 })
        {
            string? problem = null;
            try
            {
                using var loaded = ServerTls.Load(this, out _);
                if (!loaded.HasPrivateKey)
                {
                    problem = "it has no private key (set Failover:Tls:KeyFile)";
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                problem = ex.Message;
            }

            if (problem is not null)
            {
                yield return $"Failover:Tls:CertFile '{CertFile}' (key: '{KeyFile ?? CertFile}') cannot be used: {problem}";
            }
        }
        else if (KeyFile is { Length: > 0 })
        {
            yield return "Failover:Tls:KeyFile is set without Failover:Tls:CertFile.";
        }

        if (ClientCaFile is { Length: > 0 } ca)
        {
            string? problem = null;
            try
            {
                TlsTrust.Create(ca, null);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or System.Security.Cryptography.CryptographicException)
            {
                problem = ex.Message;
            }

            if (problem is not null)
            {
                yield return $"Failover:Tls:ClientCaFile '{ca}' cannot be used: {problem}";
            }

            if (CertFile is not { Length: > 0 })
            {
                yield return "Failover:Tls:ClientCaFile needs Failover:Tls:CertFile: client certificates are asked for only over TLS.";
            }
        }
    }
}
