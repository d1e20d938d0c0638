using System.Text;

namespace RedisAgent.Logs;

/// <summary>One line as split: its text, and the bytes of it the splitter did not keep (over its cap).</summary>
internal readonly record struct SplitLine(string Text, long DroppedBytes = 0);

/// <summary>
/// Splits a byte stream into lines on '\n' only (a '\r' inside a line is content, and is escaped
/// later; a "\r\n" ending loses its '\r'), decoding UTF-8 with replacement so invalid bytes
/// become U+FFFD. A partial last line waits for its end. A line longer than the cap keeps its
/// first bytes (up to the cap, at a character boundary) and counts the rest until its '\n', so a
/// stream that never sends '\n' cannot grow the buffer, and a long line stays one line that says
/// how much of it was cut.
/// </summary>
internal sealed class LineSplitter(int maxLineBytes = 64 * 1024)
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);
    private readonly List<byte> _partial = [];
    private long _dropped;

    /// <summary>True when bytes of an unfinished line are waiting.</summary>
    public bool HasPartial => _partial.Count > 0 || _dropped > 0;

    public List<SplitLine> Feed(ReadOnlySpan<byte> bytes)
    {
        var lines = new List<SplitLine>();
        while (!bytes.IsEmpty)
        {
            var newline = bytes.IndexOf((byte)'\n');
            var piece = newline < 0 ? bytes : bytes[..newline];
            var room = maxLineBytes - _partial.Count;
            if (piece.Length > room)
            {
                _partial.AddRange(piece[..room]);
                _dropped += piece.Length - room;
            }
            else
            {
                _partial.AddRange(piece);
            }

            if (newline < 0)
            {
                break;
            }

            lines.Add(Take());
            bytes = bytes[(newline + 1)..];
        }

        return lines;
    }

    /// <summary>The unfinished line, if any (at end of stream, or when a file is rotated away).</summary>
    public SplitLine? Flush() => HasPartial ? Take() : (SplitLine?)null;

    private SplitLine Take()
    {
        var count = _partial.Count;
        var dropped = _dropped;
        if (dropped == 0 && count > 0 && _partial[count - 1] == (byte)'\r')
        {
            count--;
        }

        // A cut line ends at a character boundary: the bytes of a character the cap split count as dropped.
        var kept = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_partial)[..count];
        if (dropped > 0)
        {
            var end = WholeCharacters(kept);
            dropped += kept.Length - end;
            kept = kept[..end];
        }

        var text = Utf8.GetString(kept);
        _partial.Clear();
        _dropped = 0;
        return new SplitLine(text, dropped);
    }

    /// <summary>The length of <paramref name="bytes"/> without a last character the cut left incomplete (its lead byte and what came of it).</summary>
    private static int WholeCharacters(ReadOnlySpan<byte> bytes)
    {
        var lead = bytes.Length - 1;
        while (lead >= 0 && (bytes[lead] & 0xC0) == 0x80)
        {
            lead--;
        }

        if (lead < 0 || bytes[lead] < 0xC0)
        {
            return bytes.Length;
        }

        var need = bytes[lead] >= 0xF0 ? 4 : bytes[lead] >= 0xE0 ? 3 : 2;
        return bytes.Length - lead < need ? lead : bytes.Length;
    }
}
