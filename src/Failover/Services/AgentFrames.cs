using System.Buffers;
using System.Buffers.Binary;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Compression;
using RedisFailover.Protos;

namespace RedisFailover.Services;

/// <summary>
/// The agent's messages read from its stream's request body, as gRPC frames them (a flag byte for
/// compression, a four-byte big-endian length, the message), with gRPC's own limits and statuses.
/// </summary>
/// <remarks>
/// The coordinator reads an agent's stream itself, after the registration, rather than through
/// gRPC's reader. gRPC's reader starts two asynchronous operations for every message, each an
/// object that waits for the next message, a second later for an agent: alive at any collection,
/// so copied by it, 10,000 of them for a fleet of 5,000 agents. Without them a collection under
/// that fleet promotes 2.2-2.7 MB instead of 2.9-3.0, and the coordinator allocates 8% less
/// (docs/benchmarks.md). The stream's own loop waits in one operation for its whole life. This
/// class only parses; the loop is <see cref="AgentLinkService"/>'s.
/// </remarks>
internal sealed class AgentFrames(int maxMessageBytes, string? encoding, IEnumerable<ICompressionProvider> providers)
{
    public const int HeaderBytes = 5;

    /// <summary>gRPC's own status for a message past the limit, so a client sees what any gRPC server says.</summary>
    private static readonly Status TooLarge = new(StatusCode.ResourceExhausted, "Received message exceeds the maximum configured message size.");

    /// <summary>
    /// Takes one whole message's bytes (inflated, if it came compressed) from the front of
    /// <paramref name="buffer"/>, if it holds one, and moves <paramref name="buffer"/> past it; they
    /// are <paramref name="buffer"/>'s own until it is advanced. A message larger than the limit is
    /// refused from its header, before its bytes are waited for; one compressed in a way this
    /// coordinator does not know is refused too. <see cref="Parse"/> reads them as a message.
    /// </summary>
    public bool TryReadBytes(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> message)
    {
        message = default;
        if (buffer.Length < HeaderBytes)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[HeaderBytes];
        buffer.Slice(0, HeaderBytes).CopyTo(header);
        var compressed = header[0] switch
        {
            0 => false,
            1 => true,
            var flag => throw new RpcException(new Status(StatusCode.Internal, $"a message's compression flag is {flag}, neither 0 nor 1")),
        };
        var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (length > (uint)maxMessageBytes)
        {
            throw new RpcException(TooLarge);
        }

        if (buffer.Length < HeaderBytes + length)
        {
            return false;
        }

        var payload = buffer.Slice(HeaderBytes, length);
        message = compressed ? new ReadOnlySequence<byte>(Decompress(payload)) : payload;
        buffer = buffer.Slice(HeaderBytes + length);
        return true;
    }

    /// <summary>A message's bytes as an agent's message; refused (InvalidArgument) when they are not one.</summary>
    public static AgentMessage Parse(in ReadOnlySequence<byte> message)
    {
        try
        {
            return AgentMessage.Parser.ParseFrom(message);
        }
        catch (InvalidProtocolBufferException)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"a message of {message.Length} bytes is not an agent's message"));
        }
    }

    /// <summary>A compressed message, inflated no further than the limit (gRPC's reader inflates without one).</summary>
    private byte[] Decompress(ReadOnlySequence<byte> payload)
    {
        if (encoding is null or "identity")
        {
            throw new RpcException(new Status(StatusCode.Internal, encoding is null
                ? "a compressed message on a request with no grpc-encoding"
                : "a compressed message on a request whose grpc-encoding is identity"));
        }

        var provider = providers.FirstOrDefault(p => string.Equals(p.EncodingName, encoding, StringComparison.Ordinal))
            ?? throw new RpcException(new Status(StatusCode.Unimplemented, $"messages compressed with '{WireLimits.Printable(encoding, 40)}' are not read here; accepted: identity, {string.Join(", ", providers.Select(p => p.EncodingName))}"));
        try
        {
            using var inflating = provider.CreateDecompressionStream(new MemoryStream(payload.ToArray(), writable: false));
            var output = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = inflating.Read(chunk, 0, chunk.Length)) > 0)
            {
                if (output.Length + read > maxMessageBytes)
                {
                    throw new RpcException(TooLarge);
                }

                output.Write(chunk, 0, read);
            }

            return output.ToArray();
        }
        catch (InvalidDataException)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"a message compressed with {provider.EncodingName} does not inflate"));
        }
    }
}
