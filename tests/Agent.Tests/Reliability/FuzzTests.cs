using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.Hosting;
using RedisAgent.Probing;
using RedisAgent.Testing;
using RedisFailover.Hosting;
using RedisFailover.Protos;
using RedisAgent.Node;

namespace RedisAgent.Tests.Reliability;

/// <summary>
/// Seeded random input against both programs: bad values for every configuration key, random and
/// mutated protobuf messages to every gRPC method, and a fake Redis that answers probes with
/// garbage, truncated and huge replies or not at all. Nothing may crash, hang, be accepted
/// without a described error, or show a secret. Seeds are fixed: a failure reproduces.
/// </summary>
public sealed class FuzzTests
{
    private const string Secret = "Fuzz-Secret-8c1f";

    private static readonly string[] BadValues =
    [
        "abc", "-1", "0", "99999999999999999999999", "", "\u0001\n", new string('9', 5000), "-10675199.02:48:05.4775808",
        "1e400", "NaN", "true", "00:00:00", "redis://x", "../../etc/passwd", "%00", "  ",
    ];

    [Fact]
    public void Every_agent_key_with_bad_values_is_refused_in_one_described_line_or_accepted_never_a_crash()
    {
        var random = new Random(20261130);
        var failures = new List<string>();
        foreach (var (key, _) in OptionKeys.All(typeof(AgentHost).Assembly))
        {
            foreach (var value in BadValues.OrderBy(_ => random.Next()).Take(3))
            {
                var builder = AgentHost.CreateBuilder([$"--REDIS_URL=redis://:{Secret}@127.0.0.1:1", "--Agent:StateDirectory=" + Path.GetTempPath(), $"--{key}={value}"]);
                // Its configuration watches the JSON files (an inotify instance, 128 a user): a build that throws never disposes it.
                using var configuration = builder.Configuration;
                Check(key, value, () =>
                {
                    using var host = AgentHost.Build(builder);
                    host.Services.GetRequiredService<IStartupValidator>().Validate();
                }, AgentHost.DescribeConfigurationError, failures);
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [Fact]
    public void Every_coordinator_key_with_bad_values_is_refused_in_one_described_line_or_accepted_never_a_crash()
    {
        using var store = new TempDirectory("fuzz-config");
        var random = new Random(20261201);
        var failures = new List<string>();
        foreach (var (key, _) in OptionKeys.All(typeof(FailoverHost).Assembly).Append(("Resources:0:Timeout", typeof(long))).Append(("Resources:0:Nodes:0:Address", typeof(string))))
        {
            foreach (var value in BadValues.OrderBy(_ => random.Next()).Take(3))
            {
                var builder = FailoverHost.CreateBuilder(
                [
                    $"--Failover:Token={Secret}-token", "--Failover:StoreDirectory=" + store.Path,
                    "--Resources:0:Name=cache", "--Resources:0:Nodes:0:Name=a", "--Resources:0:Nodes:0:Address=127.0.0.1:6379",
                    "--Resources:0:Nodes:1:Name=b", "--Resources:0:Nodes:1:Address=127.0.0.1:6380", $"--{key}={value}",
                ]);
                // Its configuration watches the JSON files (an inotify instance, 128 a user): a build that throws never disposes it.
                using var configuration = builder.Configuration;
                Check(key, value, () =>
                {
                    using var host = FailoverHost.Build(builder);
                    host.Services.GetRequiredService<IStartupValidator>().Validate();
                    _ = host.Services.GetRequiredService<RedisFailover.Coordination.Coordinator>();
                }, FailoverHost.DescribeConfigurationError, failures);
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    /// <summary>The command line refuses unknown keys (exit 64): it must know every real one, nested and indexed ones too.</summary>
    [Fact]
    public void Every_real_configuration_key_passes_the_command_line_check()
    {
        var agentKeys = OptionKeys.All(typeof(AgentHost).Assembly).Select(k => k.Key)
            .Concat(["REDIS_URL", "Urls", "Peers:0:Name", "Peers:1:Ssh:Interval", "Plans:big:Memory", "Exec:Arguments:0", "Logging:LogLevel:Default"]);
        var failoverKeys = OptionKeys.All(typeof(FailoverHost).Assembly).Select(k => k.Key)
            .Concat(["Resources:0:Name", "Resources:2:Nodes:1:Address", "Resources:0:UrlFileMode", "Urls", "Kestrel:Limits:MaxConcurrentConnections"]);
        var refused = new List<string>();
        foreach (var (program, keys, preflight) in new (string, IEnumerable<string>, Func<string[], TextWriter, TextWriter, int?>)[]
                 { ("redis-agent", agentKeys, AgentHost.Preflight), ("redis-failover", failoverKeys, FailoverHost.Preflight) })
        {
            foreach (var key in keys)
            {
                using var error = new StringWriter();
                if (preflight([$"--{key}=x"], TextWriter.Null, error) is { } code)
                {
                    refused.Add($"{program} --{key}: {code} {error}");
                }
            }
        }

        Assert.True(refused.Count == 0, string.Join('\n', refused));
    }

    /// <summary>Random bytes, and valid messages with random bytes flipped, to every method: refusals only, and the coordinator serves on.</summary>
    [Fact]
    public async Task Random_and_mutated_messages_to_every_grpc_method_never_break_the_coordinator()
    {
        await using var coordinator = await FailoverUnderTest.StartAsync("cache", [("n1", "127.0.0.1:1"), ("n2", "127.0.0.1:2")],
            new Dictionary<string, string?> { ["Failover:RegistrationDeadline"] = "00:00:01" });
        using var channel = GrpcChannel.ForAddress(coordinator.Url);
        var invoker = channel.CreateCallInvoker();
        var random = new Random(7);
        var valid = new IMessage[]
        {
            new ResourceRequest { Resource = "cache" },
            new PromoteRequest { Resource = "cache", Node = "n2" },
            new SetSettingsRequest { Resource = "cache", Settings = new Settings { TimeoutSeconds = 300, MaxmemoryPolicy = "allkeys-lru" } },
        };

        foreach (var method in new[] { "GetStatus", "ListIncidents", "Promote", "SetSettings", "PauseFailover", "ResumeFailover" })
        {
            var unary = new Method<byte[], byte[]>(MethodType.Unary, "redisfailover.v1.Admin", method, Bytes, Bytes);
            for (var i = 0; i < 40; i++)
            {
                var payload = i % 2 == 0 ? Noise(random) : Mutate(valid[i % valid.Length].ToByteArray(), random);
                try
                {
                    await invoker.AsyncUnaryCall(unary, null, new CallOptions(coordinator.Headers, DateTime.UtcNow.AddSeconds(10)), payload);
                }
                catch (RpcException ex) when (ex.StatusCode != StatusCode.DeadlineExceeded)
                {
                    // A refusal is the expected answer to noise.
                }
            }
        }

        var connect = new Method<byte[], byte[]>(MethodType.DuplexStreaming, "redisfailover.v1.AgentLink", "Connect", Bytes, Bytes);
        var registration = new AgentMessage { Registration = new Registration { Resource = "cache", Node = "n2", RoleName = "slave" } }.ToByteArray();
        var report = new AgentMessage { Report = new Report { RoleName = "slave", ReplicationOffset = 10, LinkUp = true, LocalVerdictName = "Healthy", Observations = { new Observation { Target = "n1", VerdictName = "Healthy" } } } }.ToByteArray();
        for (var i = 0; i < 60; i++)
        {
            using var call = invoker.AsyncDuplexStreamingCall(connect, null, new CallOptions(coordinator.Headers, DateTime.UtcNow.AddSeconds(10)));
            try
            {
                await call.RequestStream.WriteAsync(i % 3 == 0 ? Mutate(registration, random) : registration);
                for (var m = 0; m < 5; m++)
                {
                    await call.RequestStream.WriteAsync(i % 2 == 0 ? Noise(random) : Mutate(report, random));
                }

                await call.RequestStream.CompleteAsync();
                while (await call.ResponseStream.MoveNext())
                {
                }
            }
            catch (Exception ex) when (ex is RpcException { StatusCode: not StatusCode.DeadlineExceeded } or IOException)
            {
            }
        }

        var status = await new Admin.AdminClient(channel).GetStatusAsync(new ResourceRequest { Resource = "cache" }, coordinator.Headers);
        Assert.Equal("cache", status.Resource);
        Assert.True(status.Term is >= 0 and < 1000, $"term {status.Term} after the fuzz");
        Assert.DoesNotContain(coordinator.Logs.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error && e.Message.Contains("   at ", StringComparison.Ordinal));
        // A mutated report can still be a well-formed one whose term_seen is above the store's: the
        // coordinator then takes the term from the agent and says, critically, that its store was behind
        // (event 2032), as it must for a real agent after a lost store. That is a reaction to what was
        // said, not a break; anything else at error or above is.
        Assert.DoesNotContain(coordinator.Logs.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error && e.Category.StartsWith("RedisFailover", StringComparison.Ordinal)
            && e.EventId != 2032);
    }

    /// <summary>A port that answers with anything at all: each probe ends within its timeout with an outcome, never an exception, never a huge allocation.</summary>
    [Theory]
    [InlineData("garbage")]
    [InlineData("truncated")]
    [InlineData("huge-bulk")]
    [InlineData("endless-line")]
    [InlineData("silence")]
    [InlineData("close")]
    [InlineData("nested")]
    public async Task A_fake_redis_answering_anything_never_breaks_a_probe(string behaviour)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var server = ServeAsync(listener, behaviour, stop.Token);
        var probe = new PortProbe(RedisEndpoint.Parse($"redis://:{Secret}@127.0.0.1:{port}"), TimeSpan.FromMilliseconds(500), TimeProvider.System);

        for (var i = 0; i < 5; i++)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var result = await probe.ProbeAsync(CancellationToken.None);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"{behaviour}: the probe took {clock.Elapsed}");
            Assert.DoesNotContain(Secret, result.Detail ?? "", StringComparison.Ordinal);
            Assert.NotEqual(PortProbeOutcome.Pong, result.Outcome);
        }

        await stop.CancelAsync();
        listener.Stop();
        await server.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private static async Task ServeAsync(TcpListener listener, string behaviour, CancellationToken cancellationToken)
    {
        var random = new Random(behaviour.GetHashCode(StringComparison.Ordinal));
        var connections = new List<TcpClient>();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var client = await listener.AcceptTcpClientAsync(cancellationToken);
                connections.Add(client);
                var stream = client.GetStream();
                byte[] reply = behaviour switch
                {
                    "garbage" => Noise(random, 2000),
                    "truncated" => Encoding.ASCII.GetBytes("$10\r\nPON"),
                    "huge-bulk" => Encoding.ASCII.GetBytes("$2000000000\r\n" + new string('x', 100_000)),
                    "endless-line" => Encoding.ASCII.GetBytes("+" + new string('P', 1_000_000)),
                    "nested" => Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("*1\r\n", 100_000))),
                    _ => [],
                };
                try
                {
                    if (behaviour == "close")
                    {
                        client.Close();
                        continue;
                    }

                    if (reply.Length > 0)
                    {
                        await stream.WriteAsync(reply, cancellationToken);
                    }
                }
                catch (IOException)
                {
                    // The probe gave up and closed first: that is its right.
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
        finally
        {
            connections.ForEach(c => c.Dispose());
        }
    }

    private static void Check(string key, string value, Action build, Func<Exception, string?> describe, List<string> failures)
    {
        try
        {
            build();
        }
        catch (Exception ex)
        {
            var message = describe(ex);
            var shown = value.Length > 20 ? value[..20] + "..." : value;
            if (message is null)
            {
                failures.Add($"{key}={shown}: {ex.GetType().Name} not described as a configuration error: {ex.Message}");
            }
            else if (message.Contains(Secret, StringComparison.Ordinal) || message.Contains("   at ", StringComparison.Ordinal))
            {
                failures.Add($"{key}={shown}: the error shows a secret or a stack: {message}");
            }
        }
    }

    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);

    private static byte[] Noise(Random random, int max = 300)
    {
        var bytes = new byte[random.Next(0, max)];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] Mutate(byte[] message, Random random)
    {
        var copy = (byte[])message.Clone();
        for (var flips = random.Next(1, 4); flips > 0 && copy.Length > 0; flips--)
        {
            copy[random.Next(copy.Length)] = (byte)random.Next(256);
        }

        return copy;
    }
}

/// <summary>Every configuration key of an assembly's options classes (those with a <c>Section</c> constant), with its type.</summary>
internal static class OptionKeys
{
    public static IEnumerable<(string Key, Type Type)> All(Assembly assembly)
    {
        foreach (var type in assembly.GetTypes())
        {
            if (type.GetField("Section", BindingFlags.Public | BindingFlags.Static) is { IsLiteral: true } field && field.GetValue(null) is string section)
            {
                foreach (var key in Keys(type, section, depth: 0))
                {
                    yield return key;
                }
            }
        }
    }

    private static IEnumerable<(string, Type)> Keys(Type type, string prefix, int depth)
    {
        // A property the code sets itself (an internal setter: Redis:Source, Redis:Embedded) is no key.
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod?.IsPublic == true))
        {
            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (propertyType.IsPrimitive || propertyType.IsEnum || propertyType == typeof(string) || propertyType == typeof(TimeSpan))
            {
                yield return ($"{prefix}:{property.Name}", propertyType);
            }
            else if (depth < 2 && propertyType.IsClass && propertyType.Namespace?.StartsWith("Redis", StringComparison.Ordinal) == true)
            {
                foreach (var nested in Keys(propertyType, $"{prefix}:{property.Name}", depth + 1))
                {
                    yield return nested;
                }
            }
        }
    }
}
