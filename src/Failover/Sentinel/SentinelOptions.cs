using System.Globalization;
using System.Net;

namespace RedisFailover.Sentinel;

/// <summary>
/// The Sentinel discovery endpoint. Section <c>Sentinel</c>: on by default at <see cref="DefaultUrls"/>
/// (Redis Sentinel's own port, on loopback); <c>Sentinel:Urls</c> set to nothing turns it off.
/// </summary>
internal sealed class SentinelOptions
{
    public const string Section = "Sentinel";

    /// <summary>The version INFO and HELLO report: the Sentinel release whose replies these follow.</summary>
    public const string ReportedVersion = "7.0.15";

    /// <summary>Where the endpoint listens when <c>Sentinel:Urls</c> is not given.</summary>
    public const string DefaultUrls = "127.0.0.1:26379";

    /// <summary>Where the RESP endpoint listens, IP:port, comma-separated; empty: no endpoint.</summary>
    public string? Urls { get; set; }

    /// <summary>
    /// True when <see cref="Urls"/> is the built-in default rather than the operator's choice: an
    /// address already taken (a real Sentinel beside us, during a migration) is then warned about,
    /// not a reason to refuse to coordinate.
    /// </summary>
    public bool IsDefault { get; internal set; }

    /// <summary>
    /// Where the endpoint listens speaking TLS (Redis's <c>tls-port</c>), IP:port, comma-separated;
    /// with the coordinator's own certificate (<c>Failover:Tls:CertFile</c>, reloaded when renewed).
    /// </summary>
    public string? TlsUrls { get; set; }

    /// <summary>A file holding the password clients send with AUTH (Sentinel's <c>requirepass</c>); unset: none asked.</summary>
    public string? PasswordFile { get; set; }

    /// <summary>The other coordinators' Sentinel endpoints (host:port, comma-separated), listed by <c>SENTINEL sentinels</c> so that clients rotate through them.</summary>
    public string? Peers { get; set; }

    /// <summary>Clients connected at once, at most; one more is told so and closed.</summary>
    public int MaxConnections { get; set; } = 10_000;

    /// <summary>
    /// What the endpoint holds at most under the open-file limit <paramref name="limit"/>, beside the
    /// gRPC endpoints' <paramref name="callers"/> (<c>Failover:MaxConnections</c>): <see cref="MaxConnections"/>,
    /// or its share when the limit cannot hold both.
    /// </summary>
    public int MaxConnectionsUnder(long? limit, int callers) => RedisShared.Hosting.DescriptorLimit.Share(MaxConnections, callers, limit);

    /// <summary>What the gRPC endpoints hold at most under the open-file limit, beside this endpoint (when it listens).</summary>
    public int CallerConnectionsUnder(long? limit, int callers) => RedisShared.Hosting.DescriptorLimit.Share(callers, Endpoints().Count > 0 ? MaxConnections : 0, limit);

    /// <summary>Every address to listen on, and whether it speaks TLS there.</summary>
    public IReadOnlyList<(IPEndPoint Endpoint, bool Tls)> Endpoints() =>
        [.. Split(Urls).Select(p => (Parse(p), false)), .. Split(TlsUrls).Select(p => (Parse(p), true))];

    private static IPEndPoint Parse((string Host, string Port) p) => new(IPAddress.Parse(p.Host), int.Parse(p.Port, CultureInfo.InvariantCulture));

    public IReadOnlyList<(string Host, string Port)> PeerEndpoints() => Split(Peers);

    public string Password() => File.ReadAllText(PasswordFile!).TrimEnd('\r', '\n');

    /// <summary>What is wrong with these settings, each naming its key.</summary>
    public IEnumerable<string> Problems()
    {
        foreach (var (key, value) in new[] { ("Sentinel:Urls", Urls), ("Sentinel:TlsUrls", TlsUrls), ("Sentinel:Peers", Peers) })
        {
            foreach (var item in (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var colon = item.LastIndexOf(':');
                if (colon <= 0 || !int.TryParse(item[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535
                    || (key != "Sentinel:Peers" && !IPAddress.TryParse(item[..colon].Trim('[', ']'), out _)))
                {
                    yield return $"{key} '{item}' must be {(key != "Sentinel:Peers" ? "an IP address" : "a host")} and a port from 1 to 65535, e.g. 127.0.0.1:26379.";
                }
            }
        }

        if (PasswordFile is { Length: > 0 } file)
        {
            string? problem = null;
            try
            {
                problem = Password().Length == 0 ? "it is empty" : null;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                problem = ex.Message;
            }

            if (problem is not null)
            {
                yield return $"Sentinel:PasswordFile '{file}' cannot be used: {problem}";
            }
        }

        if (MaxConnections is < 1 or > 1_000_000)
        {
            yield return $"Sentinel:MaxConnections must be 1 to 1000000 (got {MaxConnections}).";
        }
    }

    private static List<(string Host, string Port)> Split(string? value) =>
        [.. (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(item => (item[..item.LastIndexOf(':')].Trim('[', ']'), item[(item.LastIndexOf(':') + 1)..]))];
}

internal sealed class SentinelOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<SentinelOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, SentinelOptions options) =>
        options.Problems().ToList() is { Count: > 0 } problems
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Fail(problems)
            : Microsoft.Extensions.Options.ValidateOptionsResult.Success;
}
