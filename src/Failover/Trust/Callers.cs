using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisFailover.Hosting;

namespace RedisFailover.Trust;

/// <summary>
/// Who a call comes from: a client certificate listed in the credentials file, a bearer token whose
/// hash is listed there, or the legacy shared <c>Failover:Token</c>. The file is read again when it
/// changes (looked at once a second at most), so callers are added, rotated and revoked without a
/// restart; a file that no longer parses leaves the last good one in force, and says so.
/// </summary>
internal sealed partial class Callers
{
    private static readonly TimeSpan LookEvery = TimeSpan.FromSeconds(1);

    private readonly string? _file;
    private readonly byte[]? _sharedToken;
    private readonly TimeProvider _time;
    private readonly ServerTls _tls;
    private readonly ILogger<Callers> _logger;
    private readonly Lock _lock = new();
    private Credentials _credentials;
    private (DateTime Written, long Length) _seen;
    private DateTimeOffset _lookedAt;

    public Callers(IOptions<FailoverOptions> options, TimeProvider time, ServerTls tls, ILogger<Callers> logger)
    {
        _tls = tls;
        _file = options.Value.CredentialsFile is { Length: > 0 } file ? file : null;
        _sharedToken = options.Value.Token is { Length: > 0 } token ? Encoding.UTF8.GetBytes(token) : null;
        _time = time;
        _logger = logger;
        _lookedAt = time.GetUtcNow();
        // Read at start: a file that does not parse stops the coordinator (the validator names it).
        _credentials = _file is null ? Credentials.None : Load(_file, out _seen);
        if (_sharedToken is not null)
        {
            Log.SharedToken(logger);
        }
    }

    /// <summary>The callers listed now (reloaded when the file changed).</summary>
    public Credentials Current
    {
        get
        {
            if (_file is null)
            {
                return _credentials;
            }

            lock (_lock)
            {
                var now = _time.GetUtcNow();
                if (now - _lookedAt >= LookEvery)
                {
                    _lookedAt = now;
                    Reload(_file);
                }

                return _credentials;
            }
        }
    }

    /// <summary>
    /// The caller, from a verified client certificate first, then the bearer token; null with
    /// <paramref name="why"/> when neither names one.
    /// </summary>
    public Caller? Identify(string? authorization, X509Certificate2? certificate, out string why)
    {
        var credentials = Current;
        if (certificate is not null)
        {
            // The handshake let it through (to say why it is refused, see ServerTls.ValidateClient):
            // its chain and dates are checked here, on every call, before its name counts.
            var name = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
            if (_tls.ClientProblem(certificate) is { } problem)
            {
                why = $"the client certificate of '{Printable(name)}' is refused: {problem}";
                return null;
            }

            if (credentials.IsRevoked(SHA256.HashData(certificate.RawData)))
            {
                why = $"the client certificate of '{Printable(name)}' is revoked (credentials file)";
                return null;
            }

            if (credentials.ByCertificate(name) is { } byCertificate)
            {
                why = "";
                return byCertificate;
            }

            if (authorization is null)
            {
                why = $"the client certificate of '{Printable(name)}' is not listed in the credentials file";
                return null;
            }
        }

        if (authorization is null || !authorization.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            why = "no credential: a client certificate or 'authorization: Bearer <token>' is required";
            return null;
        }

        var token = authorization["Bearer ".Length..];
        if (credentials.ByToken(token) is { } byToken)
        {
            why = "";
            return byToken;
        }

        if (_sharedToken is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(token), _sharedToken))
        {
            why = "";
            return new Caller("shared token", CallerRole.Fleet, "Failover:Token");
        }

        why = "the token is not a known credential";
        return null;
    }

    /// <summary>Says, loudly, every plain http:// address off loopback that <c>Failover:AllowInsecureHttp</c> let through.</summary>
    public void WarnAboutTransport(Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        foreach (var url in RedisShared.Hosting.Loopback.BeyondLoopback(configuration["Urls"] ?? FailoverHost.DefaultUrls).Where(u => u.StartsWith("http://", StringComparison.OrdinalIgnoreCase)))
        {
            Log.InsecureHttp(_logger, url);
        }
    }

    private void Reload(string file)
    {
        try
        {
            var info = new FileInfo(file);
            if (!info.Exists)
            {
                Log.ReloadFailed(_logger, file, "it no longer exists");
                return;
            }

            if ((info.LastWriteTimeUtc, info.Length) == _seen)
            {
                return;
            }

            var before = _credentials.Count;
            _credentials = Load(file, out _seen);
            Log.Reloaded(_logger, file, before, _credentials.Count);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            // Remembered as seen: the same broken file is said once, not every second.
            _seen = File.Exists(file) ? (File.GetLastWriteTimeUtc(file), new FileInfo(file).Length) : default;
            Log.ReloadFailed(_logger, file, ex.Message);
        }
    }

    private static Credentials Load(string file, out (DateTime, long) seen)
    {
        var info = new FileInfo(file);
        seen = (info.LastWriteTimeUtc, info.Length);
        return Credentials.Parse(File.ReadAllText(file), file);
    }

    private static string Printable(string text) => ResourcesOptionsValidator.Printable(text);

    private static partial class Log
    {
        [LoggerMessage(EventId = 2070, Level = LogLevel.Information, Message = "credentials file '{File}' read again: {Before} callers before, {After} now")]
        public static partial void Reloaded(ILogger logger, string file, int before, int after);

        [LoggerMessage(EventId = 2071, Level = LogLevel.Error, Message = "credentials file '{File}' cannot be read again ({Reason}): the callers it listed before stay in force")]
        public static partial void ReloadFailed(ILogger logger, string file, string reason);

        [LoggerMessage(EventId = 2072, Level = LogLevel.Warning, Message = "Failover:Token is set: whoever holds that one shared token can act as any node's agent and as admin. Give every agent and operator its own credential (Failover:CredentialsFile, docs/security.md) and remove it")]
        public static partial void SharedToken(ILogger logger);

        [LoggerMessage(EventId = 2076, Level = LogLevel.Critical, Message = "Urls '{Url}' is plain http:// off loopback (Failover:AllowInsecureHttp=true): every token sent to it crosses the network in clear text, and anyone on the path can pose as this coordinator")]
        public static partial void InsecureHttp(ILogger logger, string url);
    }
}
