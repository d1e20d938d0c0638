using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Compression;
using RedisFailover.Protos;
using RedisFailover.Services;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// The agent's stream as the coordinator reads it after the registration: gRPC's framing, read from
/// whatever pieces the body arrives in, with gRPC's limits and statuses.
/// </summary>
public sealed class AgentFramesTests
{
    private static readonly ICompressionProvider[] Providers = [new GzipCompressionProvider(CompressionLevel.Fastest), new DeflateCompressionProvider(CompressionLevel.Fastest)];

    private static AgentMessage Report(long sequence, string target = "n1") => new()
    {
        Report = new Report { Role = NodeRole.Replica, ReplicationOffset = 1234 + sequence, Sequence = sequence, Observations = { new Observation { Target = target, Verdict = Verdict.Healthy } } },
    };

    private static byte[] Frame(byte[] payload, byte flag = 0)
    {
        var frame = new byte[AgentFrames.HeaderBytes + payload.Length];
        frame[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame, AgentFrames.HeaderBytes);
        return frame;
    }

    private static byte[] Gzip(byte[] payload)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(payload);
        }

        return output.ToArray();
    }

    /// <summary>A sequence of <paramref name="bytes"/> cut into pieces of <paramref name="piece"/> bytes, as a body arrives in DATA frames.</summary>
    private static ReadOnlySequence<byte> Pieces(byte[] bytes, int piece)
    {
        Segment? first = null, last = null;
        for (var at = 0; at < bytes.Length; at += piece)
        {
            var memory = bytes.AsMemory(at, Math.Min(piece, bytes.Length - at));
            last = last is null ? first = new Segment(memory, 0) : last.Append(memory);
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    private static List<AgentMessage> ReadAll(AgentFrames frames, ref ReadOnlySequence<byte> buffer)
    {
        var read = new List<AgentMessage>();
        while (frames.TryRead(ref buffer, out var message))
        {
            read.Add(message);
        }

        return read;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(4096)]
    public void Messages_are_read_whole_from_any_pieces_and_what_follows_them_is_left(int piece)
    {
        var bytes = Frame(Report(1).ToByteArray()).Concat(Frame(Report(2, "n3").ToByteArray())).Concat(Frame(Report(3).ToByteArray())[..4]).ToArray();
        var buffer = Pieces(bytes, piece);
        var frames = new AgentFrames(256 * 1024, null, Providers);

        var read = ReadAll(frames, ref buffer);

        Assert.Equal([Report(1), Report(2, "n3")], read);
        Assert.Equal(4, buffer.Length);
    }

    [Fact]
    public void A_message_is_not_read_until_its_last_byte_has_come()
    {
        var bytes = Frame(Report(1).ToByteArray());
        var frames = new AgentFrames(256 * 1024, null, Providers);

        for (var length = 0; length < bytes.Length; length++)
        {
            var buffer = new ReadOnlySequence<byte>(bytes, 0, length);
            Assert.False(frames.TryRead(ref buffer, out _));
            Assert.Equal(length, buffer.Length);
        }

        var whole = new ReadOnlySequence<byte>(bytes);
        Assert.True(frames.TryRead(ref whole, out var message));
        Assert.Equal(Report(1), message);
        Assert.True(whole.IsEmpty);
    }

    [Fact]
    public void A_message_over_the_limit_is_refused_from_its_header_before_its_bytes_come()
    {
        // The header alone, announcing 300 KB: nothing of the message has come yet.
        var header = Frame(new byte[300 * 1024])[..AgentFrames.HeaderBytes];
        var buffer = new ReadOnlySequence<byte>(header);
        var frames = new AgentFrames(256 * 1024, null, Providers);

        var error = Assert.Throws<RpcException>(() => frames.TryRead(ref buffer, out _));

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public void Bytes_that_are_not_an_agents_message_are_refused_as_an_invalid_argument()
    {
        var buffer = new ReadOnlySequence<byte>(Frame([0xff, 0xff, 0xff, 0xff, 0xff]));
        var frames = new AgentFrames(256 * 1024, null, Providers);

        var error = Assert.Throws<RpcException>(() => frames.TryRead(ref buffer, out _));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("5 bytes is not an agent's message", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_compression_flag_other_than_0_or_1_is_refused()
    {
        var buffer = new ReadOnlySequence<byte>(Frame(Report(1).ToByteArray(), flag: 7));
        var frames = new AgentFrames(256 * 1024, null, Providers);

        var error = Assert.Throws<RpcException>(() => frames.TryRead(ref buffer, out _));

        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.Contains("compression flag is 7", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_compressed_message_is_read_with_the_requests_encoding()
    {
        var buffer = Pieces(Frame(Gzip(Report(5).ToByteArray()), flag: 1), 5);
        var frames = new AgentFrames(256 * 1024, "gzip", Providers);

        Assert.True(frames.TryRead(ref buffer, out var message));

        Assert.Equal(Report(5), message);
        Assert.True(buffer.IsEmpty);
    }

    [Theory]
    [InlineData(null, StatusCode.Internal, "no grpc-encoding")]
    [InlineData("identity", StatusCode.Internal, "grpc-encoding is identity")]
    [InlineData("snappy", StatusCode.Unimplemented, "'snappy' are not read here; accepted: identity, gzip, deflate")]
    public void A_compressed_message_without_a_known_encoding_is_refused_naming_what_is_accepted(string? encoding, StatusCode code, string expected)
    {
        var buffer = new ReadOnlySequence<byte>(Frame(Gzip(Report(5).ToByteArray()), flag: 1));
        var frames = new AgentFrames(256 * 1024, encoding, Providers);

        var error = Assert.Throws<RpcException>(() => frames.TryRead(ref buffer, out _));

        Assert.Equal(code, error.StatusCode);
        Assert.Contains(expected, error.Status.Detail, StringComparison.Ordinal);
    }

    /// <summary>10 MB of zeros is 10 KB gzipped: under the limit on the wire, inflated only as far as the limit.</summary>
    [Fact]
    public void A_compressed_message_that_inflates_past_the_limit_is_refused_as_one_too_large()
    {
        var bomb = Gzip(new byte[10 * 1024 * 1024]);
        Assert.True(bomb.Length < 256 * 1024, bomb.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var buffer = new ReadOnlySequence<byte>(Frame(bomb, flag: 1));
        var frames = new AgentFrames(256 * 1024, "gzip", Providers);
        var before = GC.GetAllocatedBytesForCurrentThread();

        var error = Assert.Throws<RpcException>(() => frames.TryRead(ref buffer, out _));

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 4 * 1024 * 1024, $"{allocated} bytes allocated to refuse it");
    }

    [Fact]
    public void A_compressed_message_that_does_not_inflate_is_refused_as_an_invalid_argument()
    {
        var buffer = new ReadOnlySequence<byte>(Frame([1, 2, 3, 4, 5, 6, 7, 8], flag: 1));
        var frames = new AgentFrames(256 * 1024, "gzip", Providers);

        var error = Assert.Throws<RpcException>(() => frames.TryRead(ref buffer, out _));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("compressed with gzip does not inflate", error.Status.Detail, StringComparison.Ordinal);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

/// <summary>A message taken and parsed, as the coordinator's stream loop does with the two.</summary>
internal static class AgentFramesReading
{
    public static bool TryRead(this AgentFrames frames, ref ReadOnlySequence<byte> buffer, out AgentMessage message)
    {
        message = null!;
        if (!frames.TryReadBytes(ref buffer, out var bytes))
        {
            return false;
        }

        message = AgentFrames.Parse(bytes);
        return true;
    }
}
