using System.Text;

namespace RedisAgent.Logs;

/// <summary>
/// Splits a byte stream into lines on '\n' only (a '\r' inside a line is content, and is escaped
/// later; a "\r\n" ending loses its '\r'), decoding UTF-8 with replacement so invalid bytes
/// become U+FFFD. A partial last line waits for its end. A line longer than the cap is cut
/// there, so a stream that never sends '\n' cannot grow the buffer without bound.
/// </summary>
internal sealed class LineSplitter(int maxLineBytes = 64 * 1024)
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);
    private readonly List<byte> _partial = [];

    /// <summary>True when bytes of an unfinished line are waiting.</summary>
    public bool HasPartial => _partial.Count > 0;

    public IEnumerable<string> Feed(ReadOnlySpan<byte> bytes)
    {
        var lines = new List<string>();
        while (!bytes.IsEmpty)
        {
            var newline = bytes.IndexOf((byte)'\n');
            var piece = newline < 0 ? bytes : bytes[..newline];
            var room = maxLineBytes - _partial.Count;
            if (piece.Length >= room)
            {
                // Cut an endless line at the cap; the rest starts the next line.
                _partial.AddRange(piece[..room]);
                lines.Add(Take());
                bytes = bytes[room..];
                continue;
            }

            _partial.AddRange(piece);
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
    public string? Flush() => _partial.Count > 0 ? Take() : null;

    private string Take()
    {
        var count = _partial.Count;
        if (count > 0 && _partial[count - 1] == (byte)'\r')
        {
            count--;
        }

        var text = Utf8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_partial)[..count]);
        _partial.Clear();
        return text;
    }
}
