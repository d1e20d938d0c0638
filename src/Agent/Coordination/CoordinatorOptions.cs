using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using RedisAgent.Hosting;
using RedisShared.Hosting;
using RedisAgent.Connection;

namespace RedisAgent.Coordination;

/// <summary>The link to redis-failover. Section <c>Coordinator</c>; without <c>Url</c> the agent works alone.</summary>
internal sealed class CoordinatorOptions
{
    public const string Section = "Coordinator";

    /// <summary>
    /// The coordinator's address, e.g. <c>http://127.0.0.1:9380</c>; with several coordinators (the
    /// etcd store), every one of them, comma-separated. The agent follows the one that leads.
    /// </summary>
    public string? Url { get; set; }

    /// <summary>Every address in <see cref="Url"/>, in order.</summary>
    public IReadOnlyList<string> Urls =>
        (Url ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The token the agent presents: its own (listed in the coordinator's credentials file), or the legacy shared <c>Failover:Token</c>. Prefer <see cref="TokenFile"/>.</summary>
    public string? Token { get; set; }

    /// <summary>A file holding the token, read at every dial (so it is rotated without a restart); wins over <see cref="Token"/>.</summary>
    public string? TokenFile { get; set; }

    /// <summary>For an <c>https://</c> coordinator: the CA (PEM) that signed its certificate, instead of the system's roots.</summary>
    public string? TlsCaFile { get; set; }

    /// <summary>For an <c>https://</c> coordinator: its certificate's SHA-256 fingerprint; when set, it alone decides trust.</summary>
    public string? TlsCertificateSha256 { get; set; }

    /// <summary>This agent's client certificate (PEM, its CN the agent's <c>resource/node</c>), read at every dial.</summary>
    public string? CertFile { get; set; }

    /// <summary>Its private key (PEM); unset: in <see cref="CertFile"/>.</summary>
    public string? KeyFile { get; set; }

    /// <summary>Allows an <c>http://</c> coordinator off loopback: the token then crosses the network in clear text.</summary>
    public bool AllowInsecureHttp { get; set; }

    /// <summary>A term more than this above the highest seen is refused until an operator confirms it (<c>redis-agent accept-term N</c>).</summary>
    public long MaxTermJump { get; set; } = 1000;

    /// <summary>The token to present now: <see cref="TokenFile"/>'s content (trimmed), else <see cref="Token"/>; null when neither.</summary>
    public string? CurrentToken() =>
        TokenFile is { Length: > 0 } file ? File.ReadAllText(file).Trim() is { Length: > 0 } read ? read : null
        : Token is { Length: > 0 } token ? token : null;

    /// <summary>The resource this node belongs to, as the coordinator names it.</summary>
    public string? Resource { get; set; }

    /// <summary>Where this node is (a zone, a rack): shown in the journal beside each vantage's answer.</summary>
    public string Zone { get; set; } = "";

    /// <summary>How often the agent reports its node and its observations.</summary>
    public TimeSpan ReportInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// An agent that has heard neither the coordinator nor any peer for this long fences its own node
    /// if it is a primary (writes refused), so that a primary cut off from everyone stops taking
    /// writes (which a failover would discard) long before the coordinator's window ends. Lifted
    /// only on the coordinator's word. Unset: two <see cref="ReportInterval"/>s (2 s by default);
    /// <c>00:00:00</c>: never. See <see cref="FenceAfter"/>.
    /// </summary>
    public TimeSpan? SelfFenceAfter { get; set; }

    /// <summary>The self-fence in force: <see cref="SelfFenceAfter"/>, two report intervals when unset, null when turned off (zero).</summary>
    public TimeSpan? FenceAfter => SelfFenceAfter switch
    {
        null => 2 * ReportInterval,
        { } off when off == TimeSpan.Zero => null,
        { } set => set,
    };

    /// <summary>The client certificate with its key, read now; null when none is configured.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCertificate()
    {
        if (CertFile is not { Length: > 0 } certFile)
        {
            return null;
        }

        using var pem = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(certFile, KeyFile);
        // Exported once: SslStream on Linux needs the key in a form it can hand to OpenSSL.
        return System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(
            pem.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12), null);
    }
}

internal sealed class CoordinatorOptionsValidator : IValidateOptions<Coordination.CoordinatorOptions>
{
    public ValidateOptionsResult Validate(string? name, Coordination.CoordinatorOptions options)
    {
        var errors = new ConfigErrors();
        if (options.Url is { Length: > 0 })
        {
            foreach (var url in options.Urls)
            {
                errors.Require(Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https",
                    $"Coordinator:Url must be an http:// or https:// address, or several comma-separated (got '{url}').");
            }

            foreach (var url in options.Urls)
            {
                if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme == "http" && !options.AllowInsecureHttp
                    && !Loopback.IsLoopbackHost(uri.Host))
                {
                    errors.Require(false, $"Coordinator:Url '{url}' is plain http:// off loopback: the agent's credential would cross the network in clear text. Use https:// (with Coordinator:TlsCaFile or Coordinator:TlsCertificateSha256), or set Coordinator:AllowInsecureHttp=true to accept that.");
                }
            }

            errors.Require(options.Token is { Length: > 0 } || options.TokenFile is { Length: > 0 } || options.CertFile is { Length: > 0 },
                "Coordinator:TokenFile (or Coordinator:Token), or Coordinator:CertFile, is required with Coordinator:Url: the agent's own credential on the coordinator.");
            if (options.TokenFile is { Length: > 0 } tokenFile)
            {
                string? problem = null;
                try
                {
                    problem = options.CurrentToken() is null ? "it is empty" : null;
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    problem = ex.Message;
                }

                errors.Require(problem is null, $"Coordinator:TokenFile '{tokenFile}' cannot be used: {problem}");
            }

            if (options.TlsCertificateSha256 is { Length: > 0 } pin)
            {
                errors.Require(RedisShared.Security.TlsTrust.ParseFingerprint(pin) is not null, "Coordinator:TlsCertificateSha256 must be 64 hex digits (colons allowed).");
            }

            errors.Require(LoadProblem(() => RedisShared.Security.TlsTrust.Create(options.TlsCaFile, null), options.TlsCaFile) is null,
                $"Coordinator:TlsCaFile '{options.TlsCaFile}' cannot be used: {LoadProblem(() => RedisShared.Security.TlsTrust.Create(options.TlsCaFile, null), options.TlsCaFile)}");
            errors.Require(options.CertFile is { Length: > 0 } || options.KeyFile is not { Length: > 0 }, "Coordinator:KeyFile is set without Coordinator:CertFile.");
            if (options.CertFile is { Length: > 0 } certFile)
            {
                var problem = LoadProblem(() => options.ClientCertificate(), certFile);
                errors.Require(problem is null, $"Coordinator:CertFile '{certFile}' (key '{options.KeyFile ?? certFile}') cannot be used: {problem}");
            }
            errors.Require(options.Resource is { Length: > 0 }, "Coordinator:Resource is required with Coordinator:Url (the resource's name on the coordinator).");
        }

        errors.Require(options.MaxTermJump >= 1, $"Coordinator:MaxTermJump must be at least 1 (got {options.MaxTermJump}).");
        errors.Positive($"{CoordinatorOptions.Section}:{nameof(CoordinatorOptions.ReportInterval)}", options.ReportInterval);
        if (options.SelfFenceAfter is { } selfFence)
        {
            // 00:00:00 turns the self-fence off.
            errors.NotNegative($"{CoordinatorOptions.Section}:{nameof(CoordinatorOptions.SelfFenceAfter)}", selfFence);
            // The coordinator is heard once per report (it acknowledges each): a fence sooner than two
            // report intervals would take one late acknowledgement for isolation.
            errors.Require(options.ReportInterval <= TimeSpan.Zero || selfFence == TimeSpan.Zero || selfFence >= 2 * options.ReportInterval,
                $"Coordinator:SelfFenceAfter ({selfFence}) must be at least two Coordinator:ReportInterval ({options.ReportInterval}): the coordinator is heard once per report, so a shorter fence would take one late acknowledgement for isolation.");
        }

        return errors.Result();
    }

    /// <summary>Why a file cannot be loaded; null when it can (or none is named).</summary>
    private static string? LoadProblem(Action load, string? file)
    {
        if (file is not { Length: > 0 })
        {
            return null;
        }

        try
        {
            load();
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            return ex.Message;
        }
    }
}

internal static class CoordinationRegistration
{
    /// <summary>Coordination: the Coordinator section (validated at start), the term store, the restart lease the coordinator grants, the link to redis-failover (stream, commands, reports) and the isolation fence.</summary>
    public static IServiceCollection AddCoordination(this IServiceCollection services, IConfiguration configuration)
    {
        // One Bind call per type, which the configuration binding generator sees.
        services.AddOptionsWithValidateOnStart<CoordinatorOptions, CoordinatorOptionsValidator>().Bind(configuration.GetSection(CoordinatorOptions.Section));
        services.TryAddSingleton(sp => new TermStore(sp.GetRequiredService<IOptions<AgentOptions>>().Value.ResolveStateDirectory(),
            sp.GetRequiredService<IOptions<CoordinatorOptions>>().Value.MaxTermJump));
        services.TryAddSingleton(sp => new Supervision.RestartLease(
            sp.GetRequiredService<TimeProvider>(),
            required: !string.IsNullOrEmpty(sp.GetRequiredService<IOptions<CoordinatorOptions>>().Value.Url)));
        services.TryAddSingleton<LinkState>();
        services.TryAddSingleton<ReportBuilder>();
        services.TryAddSingleton<CommandHandler>();
        services.TryAddSingleton<CoordinatorLink>();
        services.AddHostedService(sp => sp.GetRequiredService<CoordinatorLink>());
        services.AddHostedService<IsolationFence>();
        return services;
    }
}
