using System.Globalization;
using System.Text;

namespace RedisAgent.Logs;

/// <summary>
/// Makes any text safe to ship as one log line: a newline or another control character inside a
/// Redis line (a key name, a client's command echoed in a warning) can neither start a forged
/// line in a file nor a forged frame on the wire. Control characters become visible escapes
/// (<c>\n</c>, <c>\x1b</c>); invalid UTF-8 has already become U+FFFD when the bytes were decoded;
/// an over-long line is cut, and says so.
/// </summary>
internal static class LineSanitizer
{
    public const int DefaultMaxLength = 8192;

    public static string Clean(string text, int maxLength = DefaultMaxLength)
    {
        var needsWork = text.Length > maxLength;
        foreach (var c in text)
        {
            if (IsUnsafe(c))
            {
                needsWork = true;
                break;
            }
        }

        if (!needsWork)
        {
            return text;
        }

        var clean = new StringBuilder(Math.Min(text.Length, maxLength) + 16);
        var consumed = 0;
        foreach (var c in text)
        {
            if (clean.Length >= maxLength)
            {
                break;
            }

            consumed++;
            _ = c switch
            {
                '\n' => clean.Append(@"\n"),
                '\r' => clean.Append(@"\r"),
                '\t' => clean.Append(@"\t"),
                _ when IsUnsafe(c) => clean.Append(@"\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture)),
                _ => clean.Append(c),
            };
        }

        if (consumed < text.Length)
        {
            clean.Append(CultureInfo.InvariantCulture, $" [truncated {text.Length - consumed} characters]");
        }

        return clean.ToString();
    }

    /// <summary>C0 and C1 controls, DEL, and the Unicode line and paragraph separators some viewers break on.</summary>
    private static bool IsUnsafe(char c) =>
        c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == '\u2028' || c == '\u2029';
}
