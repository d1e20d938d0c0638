using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace RedisAgent.Hosting;

/// <summary>
/// Who may read the agent's <c>/logs</c> (Redis's own lines: keys, client addresses) and
/// <c>/metrics</c>. Section <c>Http</c>. With <see cref="TokenFile"/> both need
/// <c>authorization: Bearer &lt;token&gt;</c>; <c>/healthz</c> and <c>/readyz</c> say nothing
/// about the data and stay open for health checks.
/// </summary>
internal sealed class HttpAccessOptions
{
    public const string Section = "Http";

    /// <summary>A file holding the bearer token <c>/logs</c> and <c>/metrics</c> require (read again when it changes).</summary>
    public string? TokenFile { get; set; }

    /// <summary>Serves <c>/logs</c> and <c>/metrics</c> without a token on an address other than loopback: the explicit opt-out.</summary>
    public bool Anonymous { get; set; }

    /// <summary>
    /// The most connections the HTTP endpoints hold open at once (scrapers, health checks, up to
    /// <c>Logs:MaxTails</c> tails); one more is closed as it comes. Bounded below the process's
    /// open-file limit, so that idle connections can never take the descriptors the agent's probes
    /// and Redis's pipes need.
    /// </summary>
    public int MaxConnections { get; set; } = 1000;

    /// <summary>
    /// The most connections one client (an IPv4 address, an IPv6 /64) holds open at once; one more is
    /// closed as it comes. So one address cannot take every connection of <see cref="MaxConnections"/>,
    /// and with them the checks of those who route to the node by <c>/primary</c> and <c>/replica</c>.
    /// </summary>
    public int MaxConnectionsPerClient { get; set; } = 100;

    /// <summary>How long a connection may take to send a request's headers, and stay idle between requests, before it is closed.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Whether <see cref="MaxConnections"/> and <see cref="IdleTimeout"/> are values Kestrel can take.</summary>
    internal bool LimitsValid => MaxConnectionsValid && MaxConnectionsPerClientValid && IdleTimeoutValid;

    internal bool MaxConnectionsValid => MaxConnections is >= 1 and <= 1_000_000;

    internal bool MaxConnectionsPerClientValid => MaxConnectionsPerClient is >= 1 and <= 1_000_000;

    internal bool IdleTimeoutValid => IdleTimeout >= TimeSpan.FromSeconds(1) && IdleTimeout <= TimeSpan.FromHours(1);

    /// <summary>
    /// Why the agent must not start: <c>Urls</c> binds beyond loopback with neither a token nor the
    /// opt-out, or the token file cannot be read; null when all is well.
    /// </summary>
    public string? Problem(IConfiguration configuration)
    {
        if (TokenFile is { Length: > 0 } file)
        {
            try
            {
                return File.ReadAllText(file).Trim().Length >= 16 ? null : $"Http:TokenFile '{file}' must hold a token of at least 16 characters.";
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return $"Http:TokenFile '{file}' cannot be read: {ex.Message}";
            }
        }

        if (Anonymous)
        {
            return null;
        }

        return RedisShared.Hosting.Loopback.BeyondLoopback(configuration["Urls"] ?? AgentHost.DefaultUrls).FirstOrDefault() is { } url
            ? $"Urls: '{url}' is reachable beyond this machine, and /logs (Redis's own lines, which can hold keys and client addresses) and /metrics would be open to anyone there. Set Http:TokenFile (a file holding a bearer token of at least 16 characters), or Http:Anonymous=true to serve them to anyone."
            : null;
    }
}

/// <summary>The limits' ranges, checked at start (each message names its key).</summary>
internal sealed class HttpAccessOptionsValidator : IValidateOptions<HttpAccessOptions>
{
    public ValidateOptionsResult Validate(string? name, HttpAccessOptions options)
    {
        var errors = new RedisShared.Hosting.ConfigErrors();
        errors.Require(options.MaxConnectionsValid, $"{HttpAccessOptions.Section}:{nameof(HttpAccessOptions.MaxConnections)} must be 1 to 1000000 (got {options.MaxConnections}).");
        errors.Require(options.MaxConnectionsPerClientValid, $"{HttpAccessOptions.Section}:{nameof(HttpAccessOptions.MaxConnectionsPerClient)} must be 1 to 1000000 (got {options.MaxConnectionsPerClient}).");
        errors.Require(options.IdleTimeoutValid, $"{HttpAccessOptions.Section}:{nameof(HttpAccessOptions.IdleTimeout)} must be 1 s to 1 h (got {options.IdleTimeout}).");
        return errors.Result();
    }
}

/// <summary>The check itself, in front of <c>/logs</c> and <c>/metrics</c>.</summary>
internal sealed class HttpAccess(IOptions<HttpAccessOptions> options, TimeProvider time)
{
    private readonly Lock _lock = new();
    private byte[]? _expected;
    private DateTime _written;
    private DateTimeOffset _lookedAt = DateTimeOffset.MinValue;

    public static void Use(WebApplication app)
    {
        var access = app.Services.GetService(typeof(HttpAccess)) as HttpAccess;
        app.Use(async (context, next) =>
        {
            var path = context.Request.Path;
            if (access is not null && (path.StartsWithSegments("/logs") || path.StartsWithSegments("/metrics")) && !access.Allows(context.Request.Headers.Authorization.ToString()))
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await context.Response.WriteAsync("a bearer token is required (authorization: Bearer <the token in Http:TokenFile>)\n").ConfigureAwait(false);
                return;
            }

            await next(context).ConfigureAwait(false);
        });
    }

    /// <summary>True when no token is configured, or <paramref name="authorization"/> presents it.</summary>
    public bool Allows(string authorization)
    {
        var expected = Expected();
        return expected is null || CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(authorization), expected);
    }

    /// <summary>"Bearer &lt;token&gt;" as bytes, read again when the file changed (looked at once a second at most); null when none is configured.</summary>
    private byte[]? Expected()
    {
        if (options.Value.TokenFile is not { Length: > 0 } file)
        {
            return null;
        }

        lock (_lock)
        {
            var now = time.GetUtcNow();
            if (_expected is null || now - _lookedAt >= TimeSpan.FromSeconds(1))
            {
                _lookedAt = now;
                try
                {
                    var written = File.GetLastWriteTimeUtc(file);
                    if (_expected is null || written != _written)
                    {
                        var token = File.ReadAllText(file).Trim();
                        if (token.Length >= 16)
                        {
                            _expected = Encoding.UTF8.GetBytes("Bearer " + token);
                            _written = written;
                        }
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // The last token read stays in force (a rotation writes the file anew).
                }
            }

            // Never open by accident: a token file that could not be read at all refuses everyone.
            return _expected ?? [];
        }
    }
}
