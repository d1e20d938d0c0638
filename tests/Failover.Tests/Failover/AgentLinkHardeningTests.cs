using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using RedisAgent.Testing;
using RedisFailover.Protos;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// The coordinator's agent stream against callers that are wrong or hostile: a huge name, numbers
/// the state machine could misread, a stream that never registers, a reader that never reads, a
/// flood of bad tokens. Each is refused or cut with a short reason, and the coordinator goes on.
/// </summary>
public sealed class AgentLinkHardeningTests : IAsyncLifetime
{
    private FailoverUnderTest _coordinator = null!;
    private GrpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        // Nodes on addresses nothing serves: the coordinator never dials them, it only hears agents.
        _coordinator = await FailoverUnderTest.StartAsync("cache", [("n1", "127.0.0.1:1"), ("n2", "127.0.0.1:2")],
            new Dictionary<string, string?> { ["Failover:RegistrationDeadline"] = "00:00:01" });
        _channel = GrpcChannel.ForAddress(_coordinator.Url);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _coordinator.DisposeAsync();
    }

    [Theory]
    [InlineData(300, "resource is 300 characters long")]
    [InlineData(100_000, "resource is 100000 characters long")]
    public async Task A_long_resource_name_is_refused_and_never_echoed_whole(int length, string expected)
    {
        var name = new string('x', length);

        var error = await RegisterAsync(new Registration { Resource = name, Node = "n1" });

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(expected, error.Status.Detail, StringComparison.Ordinal);
        Assert.True(error.Status.Detail.Length < 400, error.Status.Detail.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.DoesNotContain(_coordinator.Logs.Entries, e => e.Message.Length > 2000);
    }

    [Fact]
    public async Task A_message_larger_than_any_real_one_is_refused_before_it_is_read()
    {
        var error = await RegisterAsync(new Registration { Resource = new string('x', 4 * 1024 * 1024), Node = "n1" });

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Theory]
    [InlineData(long.MinValue, 1, "replication_offset -9223372036854775808 is negative")]
    [InlineData(5, long.MaxValue, "term_seen 9223372036854775807 is outside")]
    [InlineData(5, -1, "term_seen -1 is outside")]
    public async Task A_report_with_numbers_the_machine_could_misread_ends_the_stream(long offset, long term, string expected)
    {
        using var call = new AgentLink.AgentLinkClient(_channel).Connect(_coordinator.Headers);
        await call.RequestStream.WriteAsync(new AgentMessage { Registration = new Registration { Resource = "cache", Node = "n2", RoleName = "slave" } });
        await call.RequestStream.WriteAsync(new AgentMessage { Report = new Report { RoleName = "slave", ReplicationOffset = offset, TermSeen = term, LocalVerdictName = "Healthy" } });

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext())
            {
            }
        });

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(expected, error.Status.Detail, StringComparison.Ordinal);
        var machine = _coordinator.Coordinator["cache"]!.Machine;
        Assert.True(machine.Term < 1000, $"term {machine.Term} taken from a refused report");
        Assert.DoesNotContain(machine.Nodes, n => n.Report?.ReplicationOffset < 0);
    }

    /// <summary>A timestamp no clock gives (protobuf's range is years 1 to 9999) is refused with its field named, never thrown from deep in the machine.</summary>
    [Theory]
    [InlineData("observation at")]
    [InlineData("observation host_silent_since")]
    [InlineData("self_fenced_at")]
    [InlineData("plan_usage sampled_at")]
    public async Task A_report_with_a_timestamp_out_of_range_ends_the_stream_naming_the_field(string field)
    {
        var bad = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = long.MaxValue };
        var report = new Report { RoleName = "slave", LocalVerdictName = "Healthy" };
        var seen = new Observation { Target = "n1", VerdictName = "Healthy", At = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) };
        switch (field)
        {
            case "observation at":
                seen.At = bad;
                break;
            case "observation host_silent_since":
                seen.HostSilentSince = bad;
                break;
            case "plan_usage sampled_at":
                report.PlanUsage = new PlanUsage { Plan = "premium-0", SampledAt = bad };
                break;
            default:
                report.SelfFencedAt = bad;
                break;
        }

        report.Observations.Add(seen);
        using var call = new AgentLink.AgentLinkClient(_channel).Connect(_coordinator.Headers);
        await call.RequestStream.WriteAsync(new AgentMessage { Registration = new Registration { Resource = "cache", Node = "n2", RoleName = "slave" } });
        await call.RequestStream.WriteAsync(new AgentMessage { Report = report });

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext())
            {
            }
        });

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(field, error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stream_that_never_registers_is_ended_at_the_deadline()
    {
        using var call = new AgentLink.AgentLinkClient(_channel).Connect(_coordinator.Headers);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while (await call.ResponseStream.MoveNext(timeout.Token))
            {
            }
        });

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Contains("no registration within 1 s", error.Status.Detail, StringComparison.Ordinal);
    }

    /// <summary>A caller that asks for acknowledgements and never reads them fills its own bounded queue and is cut off; it is not buffered.</summary>
    [Fact]
    public async Task A_stream_whose_reader_never_reads_is_cut_not_buffered()
    {
        using var call = new AgentLink.AgentLinkClient(_channel).Connect(_coordinator.Headers);
        await call.RequestStream.WriteAsync(new AgentMessage { Registration = new Registration { Resource = "cache", Node = "n2", RoleName = "slave" } });
        var padding = new string('p', 2000);

        var sent = 0;
        try
        {
            // Bounded in count and time: the cut comes long before either bound.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            for (; sent < 200_000 && !_coordinator.Logs.Contains(2005); sent++)
            {
                await call.RequestStream.WriteAsync(
                    new AgentMessage { Report = new Report { RoleName = "slave", LocalVerdictName = "Healthy", Sequence = sent + 1, Observations = { new Observation { Target = "n1", VerdictName = "Healthy", PortName = padding } } } },
                    timeout.Token);
            }
        }
        catch (Exception ex) when (ex is RpcException or IOException)
        {
            // The coordinator ended the call while we were still writing: that is the cut.
        }

        await Poll.UntilAsync(() => _coordinator.Logs.Contains(2005), TimeSpan.FromSeconds(30), () => $"the stream is cut after {sent} reports\n{_coordinator.Logs.Text}");
        Assert.Contains(_coordinator.Logs.Entries, e => e.EventId == 2005 && e.Message.Contains("were not read", StringComparison.Ordinal));
    }

    /// <summary>
    /// After its registration an agent's stream is read by the coordinator itself (AgentFrames), not by
    /// gRPC's reader: what a gRPC server refuses, it refuses with the same status, and a bad message ends
    /// only its own stream.
    /// </summary>
    [Theory]
    [InlineData("garbage", StatusCode.InvalidArgument, "is not an agent's message")]
    [InlineData("too large", StatusCode.ResourceExhausted, "exceeds the maximum configured message size")]
    public async Task A_bad_message_after_the_registration_ends_that_stream_with_its_status_and_no_fault(string kind, StatusCode code, string expected)
    {
        using var call = RawCall(_channel);
        await call.RequestStream.WriteAsync(new AgentMessage { Registration = new Registration { Resource = "cache", Node = "n2", RoleName = "slave" } }.ToByteArray());
        await call.RequestStream.WriteAsync(new AgentMessage { Report = new Report { Role = NodeRole.Replica, Sequence = 1 } }.ToByteArray());
        var bad = kind == "garbage" ? [0x12, 0xff, 0xff, 0xff, 0xff, 0x0f] : new AgentMessage { Report = new Report { RedisVersion = new string('v', 300 * 1024) } }.ToByteArray();
        try
        {
            await call.RequestStream.WriteAsync(bad);
        }
        catch (RpcException)
        {
            // The coordinator may have ended the call before the write finished; its status comes with the response.
        }

        var acknowledged = new List<long>();
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext())
            {
                if (call.ResponseStream.Current.ReportAck is { } ack)
                {
                    acknowledged.Add(ack.Sequence);
                }
            }
        });

        Assert.True(code == error.StatusCode, $"{error.StatusCode} {error.Status.Detail}\n{_coordinator.Logs.Text}");
        Assert.Contains(expected, error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal([1L], acknowledged);
        // Refused, not a fault of the coordinator's (which would be logged as event 2007 and answered Internal).
        Assert.DoesNotContain(_coordinator.Logs.Entries, e => e.EventId == 2007);

        // The coordinator goes on: the same node registers again and is heard.
        using var again = new AgentLink.AgentLinkClient(_channel).Connect(_coordinator.Headers);
        await again.RequestStream.WriteAsync(new AgentMessage { Registration = new Registration { Resource = "cache", Node = "n2", RoleName = "slave" } });
        await again.RequestStream.WriteAsync(new AgentMessage { Report = new Report { Role = NodeRole.Replica, Sequence = 2 } });
        Assert.True(await NextAckAsync(again.ResponseStream) == 2);
    }

    /// <summary>
    /// A message of a kind the coordinator does not know (a newer agent's), an empty one or a second
    /// registration is ignored, not refused; a flood of them costs one log line a minute, not one each.
    /// </summary>
    [Fact]
    public async Task A_flood_of_messages_it_does_not_know_is_ignored_and_said_once()
    {
        using var call = RawCall(_channel);
        await call.RequestStream.WriteAsync(new AgentMessage { Registration = new Registration { Resource = "cache", Node = "n2", RoleName = "slave" } }.ToByteArray());
        for (var i = 0; i < 500; i++)
        {
            await call.RequestStream.WriteAsync([]);
            await call.RequestStream.WriteAsync(new AgentMessage { Registration = new Registration { Resource = "cache", Node = "n2" } }.ToByteArray());
        }

        await call.RequestStream.WriteAsync(new AgentMessage { Report = new Report { Role = NodeRole.Replica, Sequence = 7 } }.ToByteArray());

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        long acknowledged = 0;
        while (acknowledged == 0 && await call.ResponseStream.MoveNext(timeout.Token))
        {
            acknowledged = call.ResponseStream.Current.ReportAck?.Sequence ?? 0;
        }

        Assert.Equal(7, acknowledged);
        var said = _coordinator.Logs.Entries.Where(e => e.EventId == 2003).ToList();
        Assert.True(said.Count == 1, $"{said.Count} lines for 1,000 ignored messages\n{_coordinator.Logs.Text}");
        Assert.Contains("sent an unexpected None; ignored (1 ignored", said[0].Message, StringComparison.Ordinal);
    }

    /// <summary>An agent that compresses its messages (a gRPC client may) is read as one that does not.</summary>
    [Fact]
    public async Task A_stream_compressed_with_gzip_is_read_and_acknowledged()
    {
        using var channel = GrpcChannel.ForAddress(_coordinator.Url, new GrpcChannelOptions
        {
            CompressionProviders = [new Grpc.Net.Compression.GzipCompressionProvider(System.IO.Compression.CompressionLevel.Fastest)],
        });
        var headers = new Metadata { { "grpc-internal-encoding-request", "gzip" } };
        foreach (var entry in _coordinator.Headers)
        {
            headers.Add(entry);
        }

        using var call = new AgentLink.AgentLinkClient(channel).Connect(headers);
        await call.RequestStream.WriteAsync(new AgentMessage { Registration = new Registration { Resource = "cache", Node = "n2", RoleName = "slave" } });
        for (var sequence = 1; sequence <= 3; sequence++)
        {
            // Repetitive enough that gzip makes it smaller, so it is sent compressed.
            await call.RequestStream.WriteAsync(new AgentMessage { Report = new Report { Role = NodeRole.Replica, ReplicationOffset = 700 + sequence, Sequence = sequence, Persistence = new string('a', 2000) } });
            Assert.Equal(sequence, await NextAckAsync(call.ResponseStream));
        }

        var n2 = _coordinator.Coordinator["cache"]!.Machine.Nodes.Single(n => n.Spec.Name == "n2");
        Assert.Equal(703, n2.Report?.ReplicationOffset);
    }

    /// <summary>A body that ends partway through a message is refused, not taken for a clean end.</summary>
    [Fact]
    public async Task A_stream_that_ends_inside_a_message_is_refused()
    {
        static byte[] Frame(IMessage message)
        {
            var payload = message.ToByteArray();
            var frame = new byte[5 + payload.Length];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
            payload.CopyTo(frame, 5);
            return frame;
        }

        var registration = Frame(new AgentMessage { Registration = new Registration { Resource = "cache", Node = "n2", RoleName = "slave" } });
        var report = Frame(new AgentMessage { Report = new Report { Role = NodeRole.Replica, Sequence = 1 } });
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, _coordinator.Url + "/redisfailover.v1.AgentLink/Connect")
        {
            Version = System.Net.HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent([.. registration, .. report[..7]]),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");
        request.Headers.TE.Add(new System.Net.Http.Headers.TransferCodingWithQualityHeaderValue("trailers"));
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", FailoverUnderTest.Token);

        using var response = await http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();

        Assert.Equal("13", response.TrailingHeaders.GetValues("grpc-status").Single());
        Assert.Contains("ended inside a message", Uri.UnescapeDataString(response.TrailingHeaders.GetValues("grpc-message").Single()), StringComparison.Ordinal);
    }

    private static AsyncDuplexStreamingCall<byte[], CoordinatorMessage> RawCall(GrpcChannel channel)
    {
        var method = new Method<byte[], CoordinatorMessage>(MethodType.DuplexStreaming, "redisfailover.v1.AgentLink", "Connect",
            Marshallers.Create<byte[]>(bytes => bytes, bytes => bytes), Marshallers.Create<CoordinatorMessage>(m => m.ToByteArray(), CoordinatorMessage.Parser.ParseFrom));
        return channel.CreateCallInvoker().AsyncDuplexStreamingCall(method, null, new CallOptions(new Metadata { { "authorization", "Bearer " + FailoverUnderTest.Token } }));
    }

    private static async Task<long> NextAckAsync(IAsyncStreamReader<CoordinatorMessage> responses)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await responses.MoveNext(timeout.Token))
        {
            if (responses.Current.ReportAck is { } ack)
            {
                return ack.Sequence;
            }
        }

        throw new InvalidOperationException("the stream ended before an acknowledgement");
    }

    [Fact]
    public async Task A_flood_of_bad_tokens_costs_one_log_line_per_caller()
    {
        var client = new Admin.AdminClient(_channel);
        var bad = new Metadata { { "authorization", "Bearer wrong-token-wrong-token" } };
        for (var i = 0; i < 200; i++)
        {
            var error = await Assert.ThrowsAsync<RpcException>(async () => await client.GetStatusAsync(new ResourceRequest { Resource = "cache" }, bad));
            Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        }

        Assert.Single(_coordinator.Logs.Entries, e => e.EventId == 2006);
        Assert.True(_coordinator.Logs.Entries.Count(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Information && e.Message.Contains("Unauthenticated", StringComparison.Ordinal)) <= 1,
            _coordinator.Logs.Text);
    }

    private async Task<RpcException> RegisterAsync(Registration registration)
    {
        using var call = new AgentLink.AgentLinkClient(_channel).Connect(_coordinator.Headers);
        try
        {
            await call.RequestStream.WriteAsync(new AgentMessage { Registration = registration });
        }
        catch (RpcException)
        {
            // The coordinator ended the call before the write finished; its status comes with the response.
        }

        return await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext())
            {
            }
        });
    }
}
