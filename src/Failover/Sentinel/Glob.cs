namespace RedisFailover.Sentinel;

/// <summary>
/// Redis's glob (<c>stringmatchlen</c>), as clients' PSUBSCRIBE patterns use it: <c>*</c>, <c>?</c>,
/// <c>[abc]</c>, <c>[^a-z]</c> and <c>\</c> to escape. Any pattern is valid (an unclosed <c>[</c>
/// runs to the end of the pattern, as in Redis), and matching takes at most pattern × text steps:
/// a client's pattern can neither throw nor stall the publisher.
/// </summary>
internal static class Glob
{
    public static bool Matches(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        int p = 0, t = 0, starPattern = -1, starText = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                starPattern = ++p;
                starText = t;
            }
            else if (p < pattern.Length && One(pattern, p, text[t], out var next))
            {
                p = next;
                t++;
            }
            else if (starPattern >= 0)
            {
                // The last star takes one more character; everything after it is tried again.
                p = starPattern;
                t = ++starText;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    /// <summary>Whether the token at <paramref name="at"/> (one character's worth: a literal, ?, \x or a class) matches <paramref name="c"/>; <paramref name="next"/> is where the following token starts.</summary>
    private static bool One(ReadOnlySpan<char> pattern, int at, char c, out int next)
    {
        switch (pattern[at])
        {
            case '?':
                next = at + 1;
                return true;
            case '\\' when at + 1 < pattern.Length:
                next = at + 2;
                return pattern[at + 1] == c;
            case '[':
                return Class(pattern, at + 1, c, out next);
            default:
                next = at + 1;
                return pattern[at] == c;
        }
    }

    private static bool Class(ReadOnlySpan<char> pattern, int at, char c, out int next)
    {
        var negate = at < pattern.Length && pattern[at] == '^';
        if (negate)
        {
            at++;
        }

        var match = false;
        while (at < pattern.Length && pattern[at] != ']')
        {
            if (pattern[at] == '\\' && at + 1 < pattern.Length)
            {
                match |= pattern[at + 1] == c;
                at += 2;
            }
            else if (at + 2 < pattern.Length && pattern[at + 1] == '-')
            {
                var (low, high) = pattern[at] <= pattern[at + 2] ? (pattern[at], pattern[at + 2]) : (pattern[at + 2], pattern[at]);
                match |= c >= low && c <= high;
                at += 3;
            }
            else
            {
                match |= pattern[at] == c;
                at++;
            }
        }

        // Past the closing ']', or at the end when it never closes.
        next = Math.Min(at + 1, pattern.Length);
        return match != negate;
    }
}
