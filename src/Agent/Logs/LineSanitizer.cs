using System.Globalization;
using System.Text;

namespace RedisAgent.Logs;

/// <summary>
/// Makes any text safe to ship as one log line: a newline or another control character inside a
/// Redis line (a key name, a client's command echoed in a warning) can neither start a forged
/// line in a file nor a forged frame on the wire. Control characters become visible escapes
/// (<c>\n</c>, <c>\x1b</c>); invalid UTF-8 has already become U+FFFD when the bytes were decoded;
/// an over-long line is cut, and says how many of its bytes were.
/// </summary>
internal static class LineSanitizer
{
    public const int DefaultMaxLength = 8192;

    /// <param name="droppedBytes">Bytes of the line already cut before it got here (<see cref="LineSplitter"/>'s cap): counted in the mark.</param>
    public static string Clean(string text, int maxLength = DefaultMaxLength, long droppedBytes = 0)
    {
        var needsWork = text.Length > maxLength || droppedBytes > 0;
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
                _ when IsUnsafe(c) && c <= 0xff => clean.Append(@"\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture)),
                // Beyond one byte: \uXXXX, never \x2028 (which reads as \x20 then "28").
                _ when IsUnsafe(c) => clean.Append(@"\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)),
                _ => clean.Append(c),
            };
        }

        if (consumed < text.Length || droppedBytes > 0)
        {
            // In bytes, as the line was written: what the cap here left out, and what came cut already.
            var cut = Encoding.UTF8.GetByteCount(text.AsSpan(consumed)) + droppedBytes;
            clean.Append(CultureInfo.InvariantCulture, $" [truncated {cut} bytes]");
        }

        return clean.ToString();
    }

    /// <summary>
    /// C0 and C1 controls, DEL, the Unicode line and paragraph separators some viewers break on,
    /// the bidirectional overrides and isolates that make a viewer show text in another order than
    /// it is (U+202A-U+202E, U+2066-U+2069, the marks U+200E, U+200F, U+061C), and the byte-order mark.
    /// </summary>
    private static bool IsUnsafe(char c) =>
        c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == '\u2028' || c == '\u2029'
        || (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069') || c is '\u200e' or '\u200f' or '\u061c' or '\ufeff';
}
