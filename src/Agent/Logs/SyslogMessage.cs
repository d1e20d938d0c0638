using System.Globalization;
using System.Text;

namespace RedisAgent.Logs;

/// <summary>
/// RFC 5424 messages and RFC 6587 octet-counted frames. Pure. HOSTNAME is the node, APP-NAME
/// the source (<c>redis</c> or <c>agent</c>), PROCID the resource, so a receiver's
/// <c>%app-name%[%procid%]: %msg%</c> renders the router's <c>redis[resource]: * text</c>.
/// </summary>
internal static class SyslogMessage
{
    public static string Format(LogLine line, int facility, string hostname, string resource) =>
        string.Create(CultureInfo.InvariantCulture,
            $"<{(facility * 8) + Severity(line)}>1 {line.Timestamp.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fff}Z {Header(hostname, 255)} {line.SourceName} {Header(resource, 128)} - - {line.Message}");

    /// <summary><c>LEN SP MSG</c>, the length counted in bytes.</summary>
    public static byte[] OctetCounted(string message)
    {
        var body = Encoding.UTF8.GetBytes(message);
        var prefix = Encoding.ASCII.GetBytes(body.Length.ToString(CultureInfo.InvariantCulture) + " ");
        return [.. prefix, .. body];
    }

    /// <summary>The message as one datagram, cut on a character boundary to fit <paramref name="maxBytes"/>.</summary>
    public static byte[] Datagram(string message, int maxBytes)
    {
        var bytes = Encoding.UTF8.GetBytes(message);
        if (bytes.Length <= maxBytes)
        {
            return bytes;
        }

        var cut = maxBytes;
        while (cut > 0 && (bytes[cut] & 0xC0) == 0x80)
        {
            cut--;
        }

        return bytes[..cut];
    }

    /// <summary>Redis's levels to syslog severities: . debug, - info, * notice, # warning.</summary>
    public static int Severity(LogLine line) => line.Level switch
    {
        '.' => 7,
        '-' => 6,
        '#' => 4,
        _ => 5,
    };

    public static int? ParseFacility(string text) => text.ToLowerInvariant() switch
    {
        "kern" => 0,
        "user" => 1,
        "daemon" => 3,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        _ when int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 0 and <= 23 => n,
        _ => null,
    };

    /// <summary>Header fields are printable US-ASCII without spaces; anything else becomes '_'.</summary>
    private static string Header(string value, int maxLength)
    {
        if (value.Length == 0)
        {
            return "-";
        }

        var chars = value.Take(maxLength).Select(c => c is > ' ' and <= '~' ? c : '_').ToArray();
        return new string(chars);
    }
}
