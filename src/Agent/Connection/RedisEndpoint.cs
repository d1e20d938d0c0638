using System.Globalization;

namespace RedisAgent.Connection;

/// <summary>
/// A Redis node as named by a <c>REDIS_URL</c>: <c>redis://[user:password@]host:port[/db]</c>
/// or <c>rediss://</c> for TLS. The password is kept out of <see cref="ToString"/> so that an
/// endpoint can be logged freely.
/// </summary>
internal sealed record RedisEndpoint(string Host, int Port, string? User, string? Password, bool Tls)
{
    public const int DefaultPort = 6379;

    /// <summary>Parses a URL; on failure <paramref name="error"/> says what is wrong without repeating the URL.</summary>
    public static bool TryParse(string? url, out RedisEndpoint? endpoint, out string? error)
    {
        endpoint = null;
        error = null;
        if (string.IsNullOrWhiteSpace(url))
        {
            error = "is empty";
            return false;
        }

        if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri))
        {
            // Never echo the value: it may hold a password.
            error = "is not a URL (expected redis://[user:password@]host:port)";
            return false;
        }

        bool tls;
        switch (uri.Scheme)
        {
            case "redis":
                tls = false;
                break;
            case "rediss":
                tls = true;
                break;
            default:
                error = $"has scheme '{uri.Scheme}'; expected redis:// or rediss://";
                return false;
        }

        if (string.IsNullOrEmpty(uri.Host))
        {
            error = "has no host";
            return false;
        }

        if (uri.AbsolutePath is not ("" or "/") && !IsDatabasePath(uri.AbsolutePath))
        {
            error = "has a path that is not a database number";
            return false;
        }

        if (uri.Port == 0 || uri.Port > 65535)
        {
            // Uri reads ":0" as a port; taking 6379 instead would watch a server nobody named.
            error = $"has port {uri.Port}; a port is 1 to 65535";
            return false;
        }

        var port = uri.IsDefaultPort || uri.Port < 0 ? DefaultPort : uri.Port;
        string? user = null;
        string? password = null;
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                // redis://secret@host is the common short form: a password with no user.
                password = Uri.UnescapeDataString(uri.UserInfo);
            }
            else
            {
                user = Uri.UnescapeDataString(uri.UserInfo[..colon]);
                password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            }

            if (user is { Length: 0 })
            {
                user = null;
            }

            if (password is { Length: 0 })
            {
                password = null;
            }

            if ((user ?? "").Any(c => char.IsControl(c) || char.IsWhiteSpace(c)) || (password ?? "").Any(char.IsControl))
            {
                // A newline in either would become a line of its own in the generated redis.conf (or an AUTH of two commands).
                error = "has a control character (or, in the user name, a space) in its user or password";
                return false;
            }
        }

        var host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : uri.Host;
        endpoint = new RedisEndpoint(host, port, user, password, tls);
        return true;
    }

    public static RedisEndpoint Parse(string url) =>
        TryParse(url, out var endpoint, out var error)
            ? endpoint!
            : throw new FormatException($"The Redis URL {error}.");

    public string HostAndPort => Host.Contains(':', StringComparison.Ordinal)
        ? $"[{Host}]:{Port.ToString(CultureInfo.InvariantCulture)}"
        : $"{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The URL with the password masked; safe for logs, errors and metrics.</summary>
    public override string ToString()
    {
        var scheme = Tls ? "rediss" : "redis";
        var auth = (User, Password) switch
        {
            (null, null) => "",
            (null, _) => "***@",
            (_, null) => $"{User}@",
            _ => $"{User}:***@",
        };
        return $"{scheme}://{auth}{HostAndPort}";
    }

    private static bool IsDatabasePath(string path) =>
        int.TryParse(path.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out _);
}
