using System.Net;

namespace RedisShared.Hosting;

/// <summary>Whether an address stays on this machine: the line between "a test on one box" and "credentials on a network".</summary>
internal static class Loopback
{
    /// <summary>True for <c>localhost</c> and any 127.0.0.0/8 or ::1 address.</summary>
    public static bool IsLoopbackHost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    /// <summary>The host of a listening URL (Kestrel's <c>*</c> and <c>+</c> read as every interface).</summary>
    public static string ListenHost(string url) =>
        new Uri(url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal)).Host;

    /// <summary>The URLs of a <c>Urls</c> value (semicolon-separated) that listen beyond loopback.</summary>
    public static IEnumerable<string> BeyondLoopback(string? urls) =>
        (urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(url => !IsLoopbackHost(ListenHost(url)));
}
