using System.Buffers.Binary;
using System.Net.Sockets;

namespace RedisAgent.Logs;

/// <summary>What Linux's <c>TCP_INFO</c> says of a connection, at one instant, in bytes of the TCP stream.</summary>
/// <param name="Established">Whether the connection is still established (a sample of a reset one says nothing new).</param>
/// <param name="Written">Stream bytes handed to the kernel so far: sent at least once, or waiting to be.</param>
/// <param name="Acknowledged">Stream bytes the peer's kernel acknowledged.</param>
/// <param name="PeerWindow">The receive window the peer last advertised; null on kernels without <c>tcpi_snd_wnd</c> (before 5.19).</param>
internal readonly record struct TcpSample(bool Established, long Written, long Acknowledged, long? PeerWindow)
{
    // Offsets in struct tcp_info (include/uapi/linux/tcp.h); fields only ever get appended to it.
    private const int StateOffset = 0;
    private const int BytesAckedOffset = 120;
    private const int NotSentOffset = 144;
    private const int BytesSentOffset = 200;
    private const int BytesRetransOffset = 208;
    private const int SndWndOffset = 228;
    private const int TcpEstablished = 1;

    /// <summary>Reads <c>TCP_INFO</c>; null where the platform has no such option or an older layout.</summary>
    public static TcpSample? Read(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        Span<byte> info = stackalloc byte[SndWndOffset + 4];
        try
        {
            var length = socket.GetRawSocketOption((int)SocketOptionLevel.Tcp, 11 /* TCP_INFO */, info);
            return Parse(info[..length]);
        }
        catch (SocketException)
        {
            return null;
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
    }

    internal static TcpSample? Parse(ReadOnlySpan<byte> info)
    {
        if (info.Length < BytesRetransOffset + 8)
        {
            return null;
        }

        var sent = BinaryPrimitives.ReadInt64LittleEndian(info[BytesSentOffset..]);
        var retransmitted = BinaryPrimitives.ReadInt64LittleEndian(info[BytesRetransOffset..]);
        var notSent = BinaryPrimitives.ReadUInt32LittleEndian(info[NotSentOffset..]);
        return new TcpSample(
            info[StateOffset] == TcpEstablished,
            sent - retransmitted + notSent,
            BinaryPrimitives.ReadInt64LittleEndian(info[BytesAckedOffset..]),
            info.Length >= SndWndOffset + 4 ? BinaryPrimitives.ReadUInt32LittleEndian(info[SndWndOffset..]) : null);
    }
}

/// <summary>
/// Which lines written on one TCP connection the drain may not have read, should the connection
/// die now. TCP acknowledges what the drain's kernel received, not what the drain read: a drain
/// that stops reading (frozen, overloaded) keeps acknowledging into its receive buffer, and when
/// it then dies that buffer is lost, and the kernel's window gives no sign of it until the buffer
/// is nearly full (measured: a frozen reader on Linux advertised the same window for 13 KB of
/// unread data). So the bound is by bytes: a line is known read only once the peer acknowledged
/// it and more than its receive buffer can hold came after it, the buffer taken as twice the
/// largest window it advertised (Linux advertises about half its buffer), or 6 MiB (Linux's
/// largest) where the kernel does not say its window. The bound errs towards naming more lines,
/// never fewer. Pure: fed samples, tested without a socket.
/// </summary>
internal sealed class TcpDelivery
{
    /// <summary>The most batches remembered one by one; older ones merge into one (a drain frozen under a trickle of one-line batches).</summary>
    internal const int MaxBatches = 4096;

    /// <summary>The receive buffer assumed when the kernel does not give the peer's window: Linux's largest (tcp_rmem).</summary>
    internal const long UnknownPeerBuffer = 6 * 1024 * 1024;

    private readonly Queue<(long End, int Lines, DateTimeOffset From, DateTimeOffset To)> _batches = new();
    private (long End, int Lines, DateTimeOffset From, DateTimeOffset To)? _merged;
    private long _largestWindow;

    /// <summary>A batch of <paramref name="lines"/> lines was written; <paramref name="sample"/> was read just after, so its <c>Written</c> ends with the batch.</summary>
    public void Wrote(TcpSample? sample, int lines, DateTimeOffset from, DateTimeOffset to)
    {
        if (sample is not { } s || lines == 0)
        {
            return;
        }

        _batches.Enqueue((s.Written, lines, from, to));
        if (_batches.Count > MaxBatches)
        {
            var oldest = _batches.Dequeue();
            _merged = _merged is { } m ? (oldest.End, m.Lines + oldest.Lines, m.From, oldest.To) : oldest;
        }

        Observe(s);
    }

    /// <summary>Settles the batches the drain must have read by <paramref name="sample"/>.</summary>
    public void Observe(TcpSample? sample)
    {
        if (sample is not { Established: true } s)
        {
            return;
        }

        long buffer;
        if (s.PeerWindow is { } window)
        {
            _largestWindow = Math.Max(_largestWindow, window);
            buffer = 2 * _largestWindow;
        }
        else
        {
            buffer = UnknownPeerBuffer;
        }

        var read = s.Acknowledged - buffer;
        if (_merged is { } merged && merged.End <= read)
        {
            _merged = null;
        }

        while (_batches.TryPeek(out var batch) && batch.End <= read)
        {
            _batches.Dequeue();
        }
    }

    /// <summary>The lines written and not known read: what a connection that died now may have lost.</summary>
    public (int Lines, DateTimeOffset From, DateTimeOffset To)? Unconfirmed()
    {
        if (_batches.Count == 0 && _merged is null)
        {
            return null;
        }

        var lines = 0;
        var from = DateTimeOffset.MaxValue;
        var to = DateTimeOffset.MinValue;
        foreach (var batch in _merged is { } m ? _batches.Prepend(m) : _batches)
        {
            lines += batch.Lines;
            from = batch.From < from ? batch.From : from;
            to = batch.To > to ? batch.To : to;
        }

        return (lines, from, to);
    }
}
