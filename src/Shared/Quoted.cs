using System.Globalization;
using System.Text;

namespace RedisShared.Hosting;

/// <summary>
/// A value as it may be quoted in one line of an error or a log: control characters escaped (a
/// newline cannot forge a second line), and cut past <c>max</c> characters, saying how long it was
/// (a 4 MB name is never echoed whole). Both programs quote configuration values and wire input with it.
/// </summary>
internal static class Quoted
{
    /// <summary>True when <paramref name="text"/> holds a control character (C0, DEL, C1: <see cref="char.IsControl(char)"/>).</summary>
    /// <remarks>
    /// A loop: it allocates nothing however the JIT has compiled it, where <c>ContainsAnyInRange</c>,
    /// before the JIT optimises it, allocated about 190 bytes a call (13 a report's checks).
    /// </remarks>
    public static bool HasControl(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (char.IsControl(c))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when <see cref="Printable"/> returns <paramref name="text"/> as it is: no longer than <paramref name="max"/>, no control character.</summary>
    public static bool IsPlain(ReadOnlySpan<char> text, int max) => text.Length <= max && !HasControl(text);

    public static string Printable(string value, int max = 80)
    {
        if (IsPlain(value, max))
        {
            // Already printable (nearly always): the same string, nothing copied.
            return value;
        }

        var text = new StringBuilder();
        foreach (var c in value.Length > max ? value.AsSpan(0, max) : value.AsSpan())
        {
            _ = char.IsControl(c) ? text.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}") : text.Append(c);
        }

        return value.Length > max ? text.Append(CultureInfo.InvariantCulture, $"... ({value.Length} characters)").ToString() : text.ToString();
    }
}
