using RedisShared.Security;
using System.Net;
using Microsoft.Extensions.Options;
using RedisShared.Hosting;

namespace RedisAgent.Connection;

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
