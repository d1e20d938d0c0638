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
    public static string Format(LogLine line, int facility, string hostname, string resource, string? structuredData = null)
    {
        Span<char> stamp = stackalloc char[24];
        return string.Create(CultureInfo.InvariantCulture,
            $"<{(facility * 8) + Severity(line)}>1 {Timestamp(line.Timestamp.UtcDateTime, stamp)} {Header(hostname, 255)} {line.SourceName} {Header(resource, 128)} - {structuredData ?? "-"} {line.Message}");
    }

    /// <summary>
    /// True when <paramref name="text"/> is one or more RFC 5424 SD-ELEMENTs: <c>[id name="value" ...]</c>,
    /// printable US-ASCII outside quoted values, with <c>"</c>, <c>\</c> and <c>]</c> escaped inside them.
    /// </summary>
    public static bool IsStructuredData(string text)
    {
        var i = 0;
        if (text.Length == 0)
        {
            return false;
        }

        while (i < text.Length)
        {
            if (text[i++] != '[' || !Name(text, ref i))
            {
                return false;
            }

            while (i < text.Length && text[i] == ' ')
            {
                i++;
                if (!Name(text, ref i) || i + 1 >= text.Length || text[i] != '=' || text[i + 1] != '"')
                {
                    return false;
                }

                i += 2;
                while (i < text.Length && text[i] != '"')
                {
                    // RFC 5424, 6.3.3: '"', '\' and ']' are escaped in a PARAM-VALUE; a bare ']' ends
                    // the element early for a receiver, which then rejects every message.
                    if (char.IsControl(text[i]) || text[i] == ']' || (text[i] == '\\' && ++i >= text.Length))
                    {
                        return false;
                    }

                    i++;
                }

                if (i++ >= text.Length)
                {
                    return false;
                }
            }

            if (i >= text.Length || text[i++] != ']')
            {
                return false;
            }
        }

        return true;

        static bool Name(string text, ref int i)
        {
            var start = i;
            while (i < text.Length && text[i] is > ' ' and <= '~' and not ('=' or ']' or '"' or ' '))
            {
                i++;
            }

            return i > start && i - start <= 32;
        }
    }

    /// <summary><c>yyyy-MM-ddTHH:mm:ss.fffZ</c>, written by hand: a custom DateTime format string per line costs more than the rest of the message.</summary>
    private static ReadOnlySpan<char> Timestamp(DateTime utc, Span<char> buffer)
    {
        Write(buffer, 0, utc.Year, 4);
        buffer[4] = '-';
        Write(buffer, 5, utc.Month, 2);
        buffer[7] = '-';
        Write(buffer, 8, utc.Day, 2);
        buffer[10] = 'T';
        Write(buffer, 11, utc.Hour, 2);
        buffer[13] = ':';
        Write(buffer, 14, utc.Minute, 2);
        buffer[16] = ':';
        Write(buffer, 17, utc.Second, 2);
        buffer[19] = '.';
        Write(buffer, 20, utc.Millisecond, 3);
        buffer[23] = 'Z';
        return buffer;

        static void Write(Span<char> buffer, int at, int value, int width)
        {
            for (var i = width - 1; i >= 0; i--)
            {
                buffer[at + i] = (char)('0' + (value % 10));
                value /= 10;
            }
        }
    }

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

        // The message ends with a mark saying how many bytes were cut, as a line over
        // Logs:MaxLineLength does: a receiver sees the cut rather than a silently shorter line.
        var mark = "";
        var cut = maxBytes;
        for (var i = 0; i < 2; i++)
        {
            mark = string.Create(CultureInfo.InvariantCulture, $" [truncated {bytes.Length - cut} bytes]");
            cut = Math.Max(0, maxBytes - mark.Length);
        }

        while (cut > 0 && (bytes[cut] & 0xC0) == 0x80)
        {
            cut--;
        }

        mark = string.Create(CultureInfo.InvariantCulture, $" [truncated {bytes.Length - cut} bytes]");
        var datagram = new byte[cut + mark.Length];
        bytes.AsSpan(0, cut).CopyTo(datagram);
        Encoding.ASCII.GetBytes(mark, datagram.AsSpan(cut));
        return datagram;
    }

    /// <summary>
    /// Redis's levels to syslog severities: . debug, - info, * notice, # warning; the agent's own
    /// errors and critical events keep theirs (err, crit).
    /// </summary>
    public static int Severity(LogLine line) => line.Severity ?? line.Level switch
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
