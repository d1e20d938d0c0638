using System.Buffers;
using System.Globalization;
using System.Text;

namespace RedisFailover.Sentinel;

/// <summary>
/// One client's RESP connection: commands read with hard bounds (a hostile length is refused
/// before anything is allocated for it), replies written in RESP2 or, after <c>HELLO 3</c>, RESP3.
/// </summary>
internal sealed class RespConnection(Stream stream)
{
    /// <summary>Arguments per command at most (Sentinel's largest takes a handful).</summary>
    public const int MaxArguments = 64;

    /// <summary>Bytes per argument, and per inline command, at most.</summary>
    public const int MaxArgumentBytes = 64 * 1024;

    private readonly BufferedStream _input = new(stream, 16 * 1024);
    private readonly MemoryStream _output = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    /// <summary>RESP3 (after <c>HELLO 3</c>): maps, nulls and pushes have their own types.</summary>
    public bool Resp3 { get; set; }

    /// <summary>The next command's arguments; null at the end of the stream. Throws <see cref="InvalidDataException"/> with Redis's own wording for a protocol error.</summary>
    public async Task<List<string>?> ReadCommandAsync(CancellationToken cancellationToken)
    {
        var first = await ReadLineAsync(cancellationToken).ConfigureAwait(false);
        if (first is null)
        {
            return null;
        }

        if (first.Length == 0 || first[0] != '*')
        {
            // An inline command (telnet, redis-cli's fallback): words split by spaces.
            return [.. first.Split(' ', StringSplitOptions.RemoveEmptyEntries)];
        }

        if (!int.TryParse(first.AsSpan(1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var count) || count > MaxArguments)
        {
            throw new InvalidDataException("Protocol error: invalid multibulk length");
        }

        var arguments = new List<string>(Math.Max(count, 0));
        for (var i = 0; i < count; i++)
        {
            var header = await ReadLineAsync(cancellationToken).ConfigureAwait(false) ?? throw new EndOfStreamException();
            if (header.Length == 0 || header[0] != '$')
            {
                throw new InvalidDataException($"Protocol error: expected '$', got '{(header.Length == 0 ? ' ' : header[0])}'");
            }

            if (!int.TryParse(header.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var length) || length > MaxArgumentBytes)
            {
                throw new InvalidDataException("Protocol error: invalid bulk length");
            }

            var buffer = ArrayPool<byte>.Shared.Rent(length + 2);
            try
            {
                await _input.ReadExactlyAsync(buffer.AsMemory(0, length + 2), cancellationToken).ConfigureAwait(false);
                arguments.Add(Encoding.UTF8.GetString(buffer, 0, length));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        return arguments;
    }

    /// <summary>One line without its CRLF; null at the end of the stream; a line longer than the bound is a protocol error.</summary>
    private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        var line = new List<byte>(64);
        var one = new byte[1];
        while (true)
        {
            if (await _input.ReadAsync(one, cancellationToken).ConfigureAwait(false) == 0)
            {
                return line.Count == 0 ? null : throw new EndOfStreamException();
            }

            if (one[0] == '\n')
            {
                var end = line.Count > 0 && line[^1] == '\r' ? line.Count - 1 : line.Count;
                return Encoding.UTF8.GetString([.. line.Take(end)]);
            }

            if (line.Count >= MaxArgumentBytes)
            {
                throw new InvalidDataException("Protocol error: too big inline request");
            }

            line.Add(one[0]);
        }
    }

    // ---- replies: appended to a buffer, sent by FlushAsync ----

    public RespConnection Simple(string text) => Append($"+{text}\r\n");

    public RespConnection Error(string text) => Append($"-{text}\r\n");

    public RespConnection Integer(long value) => Append(string.Create(CultureInfo.InvariantCulture, $":{value}\r\n"));

    public RespConnection Bulk(string? text) =>
        text is null ? NullBulk() : Append(string.Create(CultureInfo.InvariantCulture, $"${Encoding.UTF8.GetByteCount(text)}\r\n{text}\r\n"));

    public RespConnection NullBulk() => Append(Resp3 ? "_\r\n" : "$-1\r\n");

    public RespConnection NullArray() => Append(Resp3 ? "_\r\n" : "*-1\r\n");

    public RespConnection Array(int count) => Append(string.Create(CultureInfo.InvariantCulture, $"*{count}\r\n"));

    /// <summary>A map: RESP3's own type, or RESP2's flat array of field, value pairs.</summary>
    public RespConnection Map(int pairs) => Append(Resp3 ? string.Create(CultureInfo.InvariantCulture, $"%{pairs}\r\n") : string.Create(CultureInfo.InvariantCulture, $"*{pairs * 2}\r\n"));

    /// <summary>A push (RESP3) or an array (RESP2): how Pub/Sub messages are framed.</summary>
    public RespConnection Push(int count) => Append(string.Create(CultureInfo.InvariantCulture, $"{(Resp3 ? '>' : '*')}{count}\r\n"));

    /// <summary>Field, value pairs as a map of bulk strings, in order.</summary>
    public RespConnection Fields(IReadOnlyList<(string Field, string Value)> fields)
    {
        Map(fields.Count);
        foreach (var (field, value) in fields)
        {
            Bulk(field).Bulk(value);
        }

        return this;
    }

    /// <summary>Only the connection's own loop appends replies; a Pub/Sub message is sent whole by <see cref="SendPushAsync"/>.</summary>
    private RespConnection Append(string text)
    {
        _output.Write(Encoding.UTF8.GetBytes(text));
        return this;
    }

    /// <summary>A Pub/Sub message (<c>message</c>, channel, payload...), sent whole between two replies, never inside one.</summary>
    public async Task SendPushAsync(IReadOnlyList<string> items, CancellationToken cancellationToken)
    {
        var frame = new StringBuilder().Append(Resp3 ? '>' : '*').Append(items.Count).Append("\r\n");
        foreach (var item in items)
        {
            frame.Append('$').Append(Encoding.UTF8.GetByteCount(item)).Append("\r\n").Append(item).Append("\r\n");
        }

        await WriteAsync(Encoding.UTF8.GetBytes(frame.ToString()), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the connection under the client (a reader that does not read): its loop then ends.</summary>
    public void Abort() => stream.Dispose();

    /// <summary>Sends the replies appended since the last flush.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var pending = _output.ToArray();
        _output.SetLength(0);
        await WriteAsync(pending, cancellationToken).ConfigureAwait(false);
    }

    private async Task WriteAsync(byte[] pending, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (pending.Length > 0)
            {
                await stream.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }
}
