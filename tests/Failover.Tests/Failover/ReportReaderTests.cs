using System.Buffers;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using RedisFailover.Coordination;
using RedisFailover.Protos;
using RedisFailover.Services;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// The coordinator reads an agent's report from its bytes (<see cref="ReportReader"/>) rather than
/// through protobuf's generated parser. It may decline any message, which the parser then reads;
/// what it does read must be exactly what the parser and <see cref="AgentLinkService.ToReport"/>
/// make of it, and it must read every report an agent sends. Checked against the parser itself on
/// generated reports (every field, legacy names, values out of every bound, strings of every kind)
/// and on the same reports corrupted.
/// </summary>
public sealed class ReportReaderTests
{
    private static readonly TargetSeen[] NoneSeen = [];

    private static readonly DateTimeOffset T0 = new(2026, 12, 3, 7, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Every_report_the_parser_accepts_is_read_alike_and_every_one_it_refuses_is_declined(int seed)
    {
        var random = new Random(seed);
        var (read, declined) = (0, 0);
        for (var i = 0; i < 3000; i++)
        {
            var report = RandomReport(random);
            var previous = Previous(random, report);
            var bytes = new AgentMessage { Report = report }.ToByteArray();
            var expected = Expected(bytes, previous);
            var took = Compare(bytes, previous);
            if (expected is not null)
            {
                // An agent's message (protobuf's own encoding) that the coordinator accepts: read, never declined.
                Assert.True(took, $"seed {seed}, report {i}: declined a valid report: {report}");
                read++;
            }
            else
            {
                declined++;
            }
        }

        // Both kinds were generated in numbers: the comparison was not of one kind only.
        Assert.True(read > 1000 && declined > 500, $"{read} read, {declined} refused");
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(14)]
    public void A_corrupted_or_unusual_message_is_read_alike_or_declined(int seed)
    {
        var random = new Random(seed);
        var (read, declined) = (0, 0);
        for (var i = 0; i < 3000; i++)
        {
            var report = RandomReport(random, valid: random.Next(4) != 0);
            var previous = Previous(random, report);
            var body = report.ToByteArray();
            for (var m = 0; m < 10; m++)
            {
                var bytes = Corrupt(random, body);
                if (Compare(bytes, previous))
                {
                    read++;
                }
                else
                {
                    declined++;
                }
            }
        }

        Assert.True(read > 1000 && declined > 1000, $"{read} read, {declined} declined");
    }

    [Fact]
    public void A_report_of_the_previous_release_with_names_only_is_read()
    {
        var report = new Report { RoleName = "slave", LocalVerdictName = "Busy", ReplicationOffset = 7 };
        report.Observations.Add(new Observation { Target = "n1", VerdictName = "HostUnreachable", HostVerdictName = "Down", PortName = "ConnectTimeout" });
        var bytes = new AgentMessage { Report = report }.ToByteArray();

        Assert.True(Compare(bytes, previous: null));
        Assert.True(ReportReader.TryRead(bytes, null, out var read, out _));
        Assert.Equal(NodeRole.Replica, read.Role);
        Assert.Equal(Verdict.Busy, read.LocalVerdict);
        Assert.Equal(new TargetSeen("n1", Verdict.HostUnreachable, HostVerdict.Down, DateTimeOffset.MinValue, PortOutcome.ConnectTimeout), read.Observations[0]);
    }

    [Fact]
    public void A_newer_agents_fields_are_skipped_and_the_report_read()
    {
        var report = FleetReport(offset: 100, T0).ToByteArray();
        // Field 40 as a varint, 41 fixed64, 42 length-delimited, 43 fixed32: what a newer agent could add.
        byte[] unknown = [0xC0, 0x02, 0x05, 0xC9, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 0xD2, 0x02, 0x02, 0x41, 0x42, 0xDD, 0x02, 1, 2, 3, 4];
        var bytes = Wrap([.. report, .. unknown]);

        Assert.True(Compare(bytes, previous: null));
    }

    [Fact]
    public void A_message_merged_by_protobuf_is_left_to_the_parser()
    {
        // Settings given twice: protobuf merges the second into the first, which this reader does not do.
        var first = new Report { Settings = new Settings { TimeoutSeconds = 5 } }.ToByteArray();
        var second = new Report { Settings = new Settings { MaxmemoryPolicy = "allkeys-lru" } }.ToByteArray();
        var bytes = Wrap([.. first, .. second]);

        Assert.False(ReportReader.TryRead(bytes, null, out _, out _));
        Assert.Equal(new ResourceSettings(5, "allkeys-lru"), Expected(bytes, null)!.Settings);
    }

    [Fact]
    public void A_report_read_again_shares_everything_with_the_last_and_one_with_new_times_only_what_did_not_change()
    {
        var first = Read(new AgentMessage { Report = FleetReport(100, T0) }.ToByteArray(), null);
        var again = Read(new AgentMessage { Report = FleetReport(100, T0) }.ToByteArray(), first);
        Assert.Same(first.Settings, again.Settings);
        Assert.Same(first.Observations, again.Observations);
        Assert.Same(first.PrimaryAddress, again.PrimaryAddress);
        Assert.Same(first.RedisVersion, again.RedisVersion);
        Assert.Same(first.Plan, again.Plan);

        var later = Read(new AgentMessage { Report = FleetReport(200, T0.AddSeconds(1)) }.ToByteArray(), again);
        Assert.Equal(200, later.ReplicationOffset);
        Assert.NotSame(again.Observations, later.Observations);
        Assert.Equal(T0.AddSeconds(1), later.Observations[0].At);
        Assert.Same(again.Observations[0].Target, later.Observations[0].Target);
        Assert.Same(again.Settings, later.Settings);
    }

    /// <summary>
    /// What the reader is for: a report that differs from the last only in its offset and its
    /// observations' times makes only the machine's record of it, where the parser made the message,
    /// its strings and timestamps as well.
    /// </summary>
    [Fact]
    public void Reading_a_report_makes_only_what_the_machine_keeps()
    {
        var messages = Enumerable.Range(0, 1001).Select(i => new ReadOnlySequence<byte>(new AgentMessage { Report = FleetReport(100 * i, T0.AddSeconds(i)) }.ToByteArray())).ToArray();
        var previous = Read(messages[0].FirstSpan.ToArray(), null);
        void FromBytes()
        {
            for (var i = 1; i < messages.Length; i++)
            {
                Assert.True(ReportReader.TryRead(messages[i], previous, out var report, out _));
                previous = report;
            }
        }

        void Parsed()
        {
            for (var i = 1; i < messages.Length; i++)
            {
                previous = AgentLinkService.ToReport(AgentMessage.Parser.ParseFrom(messages[i]).Report, previous);
            }
        }

        // Measured once the JIT has optimised both (the shipped coordinator is compiled ahead of
        // time): code it has not yet recompiled allocates where the optimised code does not.
        var (fast, parsed) = (0L, 0L);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        do
        {
            (fast, parsed) = (Allocated(FromBytes), Allocated(Parsed));
        }
        while (fast / 1000 >= 500 && DateTime.UtcNow < deadline);

        // The record, its list of three observations, the three, the plan's sample: 416 bytes when this
        // was written, against 2,136 through the parser.
        Assert.True(fast / 1000 < 500, $"a report read from its bytes allocated {fast / 1000} bytes (through the parser: {parsed / 1000})");
        Assert.True(parsed > 2 * fast, $"through the parser {parsed / 1000} bytes a report, from its bytes {fast / 1000}");
    }

    [Fact]
    public void A_report_that_arrives_in_pieces_reads_as_a_whole_one()
    {
        var bytes = new AgentMessage { Report = FleetReport(100, T0) }.ToByteArray();
        var first = new Piece(bytes.AsMemory(0, 7));
        var last = first.Append(bytes.AsMemory(7));
        Assert.True(ReportReader.TryRead(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length), null, out var pieces, out var sequence));
        Assert.Equal(42, sequence);
        Assert.True(Equal(Expected(bytes, null)!, pieces));
    }

    /// <summary>Reads with both and compares; true when the reader read it (and then read it alike).</summary>
    private static bool Compare(byte[] bytes, NodeReport? previous)
    {
        var expected = Expected(bytes, previous);
        if (!ReportReader.TryRead(bytes, previous, out var report, out var sequence))
        {
            return false;
        }

        Assert.True(expected is not null, $"read a message the parser refuses or does not take for a report ({Why(bytes)}): {Convert.ToHexString(bytes[..Math.Min(bytes.Length, 400)])}");
        Assert.True(Equal(expected, report), $"read differently:\n  parser: {Describe(expected)}\n  reader: {Describe(report)}\n  bytes: {Convert.ToHexString(bytes)}");
        Assert.Equal(AgentMessage.Parser.ParseFrom(bytes).Report.Sequence, sequence);
        return true;
    }

    /// <summary>What the coordinator made of a message before the reader: the parser, the checks, <see cref="AgentLinkService.ToReport"/>; null when it is not a report it accepts.</summary>
    private static NodeReport? Expected(byte[] bytes, NodeReport? previous)
    {
        AgentMessage message;
        try
        {
            message = AgentMessage.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }

        return message.BodyCase == AgentMessage.BodyOneofCase.Report && WireLimits.ReportProblem(message.Report) is null
            ? AgentLinkService.ToReport(message.Report, previous)
            : null;
    }

    private static string Why(byte[] bytes)
    {
        try
        {
            var message = AgentMessage.Parser.ParseFrom(bytes);
            return message.BodyCase == AgentMessage.BodyOneofCase.Report ? WireLimits.ReportProblem(message.Report) ?? "accepted" : message.BodyCase.ToString();
        }
        catch (InvalidProtocolBufferException e)
        {
            return e.Message;
        }
    }

    private static NodeReport Read(byte[] bytes, NodeReport? previous)
    {
        Assert.True(ReportReader.TryRead(bytes, previous, out var report, out _));
        return report;
    }

    private static bool Equal(NodeReport a, NodeReport b) =>
        a with { Observations = NoneSeen } == b with { Observations = NoneSeen } && a.Observations.SequenceEqual(b.Observations)
        && a.SelfFencedAt?.UtcTicks == b.SelfFencedAt?.UtcTicks && a.Observations.Select(o => o.At.UtcTicks).SequenceEqual(b.Observations.Select(o => o.At.UtcTicks));

    private static string Describe(NodeReport r) => $"{r with { Observations = NoneSeen }} [{string.Join(", ", r.Observations)}]";

    private static long Allocated(Action action)
    {
        action();
        var before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private static byte[] Wrap(byte[] report)
    {
        var output = new MemoryStream();
        var coded = new CodedOutputStream(output);
        coded.WriteTag(2, WireFormat.WireType.LengthDelimited);
        coded.WriteBytes(ByteString.CopyFrom(report));
        coded.Flush();
        return output.ToArray();
    }

    /// <summary>A report as the fleet scenario's agents send it, with what a real agent adds (names, version, plan).</summary>
    private static Report FleetReport(long offset, DateTimeOffset at)
    {
        var report = new Report
        {
            Role = NodeRole.Replica, RoleName = "slave", ReplicationOffset = offset, LinkUp = true, PrimaryAddress = "127.0.0.11:6379",
            LocalVerdict = Verdict.Healthy, LocalVerdictName = "Healthy", TermSeen = 3, Sequence = 42,
            Settings = new Settings { TimeoutSeconds = 300, MaxmemoryPolicy = "allkeys-lru" },
            RedisVersion = "7.0.15", Persistence = "AOF (appendfsync everysec)",
            PlanUsage = new PlanUsage { Plan = "premium-0", UsedMemoryBytes = 1 << 20, MemoryLimitBytes = 50 << 20, ActiveConnections = 3, ConnectionLimit = 40, SampledAt = Timestamp.FromDateTimeOffset(T0) },
        };
        foreach (var target in new[] { "n1", "n2", "n3" })
        {
            report.Observations.Add(new Observation
            {
                Target = target, Verdict = Verdict.Healthy, VerdictName = "Healthy", HostVerdict = HostVerdict.Up, HostVerdictName = "Up",
                Port = PortOutcome.Pong, PortName = "Pong", At = Timestamp.FromDateTimeOffset(at),
            });
        }

        return report;
    }

    // ---- Generation ------------------------------------------------------------------------------

    private static readonly string[] Words =
    [
        "", "n1", "n2", "127.0.0.11:6379", "allkeys-lru", "noeviction", "7.0.15", "none", "premium-0", "master", "slave", "Healthy", "Busy",
        "HostUnreachable", "Up", "Down", "Pong", "ConnectTimeout", "Refused", "healthy", "Healthy,Busy", "4", "é", "日本語", "😀", "a\u0085b", "tab\there",
        "line\n", "\u007f", "\uFFFD", "x y", "AOF (appendfsync everysec)",
    ];

    private static string RandomString(Random random, int rare = 12) => random.Next(rare) switch
    {
        0 => new string('a', random.Next(250, 262)),
        1 => new string('é', random.Next(60, 70)),
        2 => new string('b', random.Next(4090, 4100)),
        3 => string.Concat(Enumerable.Range(0, random.Next(1, 5)).Select(_ => Words[random.Next(Words.Length)])),
        _ => Words[random.Next(Words.Length)],
    };

    /// <summary>A string that passes the checks (nearly always) or, when <paramref name="valid"/> is false, any.</summary>
    private static string Name(Random random, bool valid) => valid ? Words[random.Next(17)] : RandomString(random);

    private static int RandomEnum(Random random) => random.Next(8) switch
    {
        0 => -1,
        1 => 99,
        2 => int.MaxValue,
        3 => 0,
        _ => random.Next(1, 11),
    };

    private static long RandomLong(Random random, bool valid) => valid
        ? random.Next(6) switch { 0 => 0, 1 => long.MaxValue, _ => random.NextInt64(0, 1L << 40) }
        : random.Next(6) switch { 0 => -1, 1 => long.MinValue, 2 => WireLimits.MaxTerm + 1, 3 => WireLimits.MaxTerm, _ => random.NextInt64(-5, 1L << 54) };

    private static Timestamp RandomStamp(Random random, bool valid) => valid || random.Next(3) != 0
        ? random.Next(4) == 0
            // Any time protobuf can hold, to the nanosecond, its first and last second included.
            ? new Timestamp { Seconds = random.Next(3) switch { 0 => -62_135_596_800, 1 => 253_402_300_799, _ => random.NextInt64(-62_135_596_800, 253_402_300_800) }, Nanos = random.Next(0, 1_000_000_000) }
            : Timestamp.FromDateTimeOffset(T0.AddTicks(random.NextInt64(-(1L << 50), 1L << 50)))
        : random.Next(4) switch
        {
            0 => new Timestamp { Seconds = 253_402_300_800, Nanos = 0 },
            1 => new Timestamp { Seconds = -62_135_596_801 },
            2 => new Timestamp { Seconds = 5, Nanos = -1 },
            _ => new Timestamp { Seconds = 5, Nanos = 1_000_000_000 },
        };

    private static Report RandomReport(Random random, bool? valid = null)
    {
        // About half the reports have one value out of bounds somewhere (valid false for one part).
        var broken = valid == false || (valid is null && random.Next(2) == 0) ? random.Next(8) : -1;
        var report = new Report
        {
            Role = (NodeRole)RandomEnum(random),
            RoleName = random.Next(2) == 0 ? Name(random, broken != 0) : "",
            ReplicationOffset = random.Next(2) == 0 ? RandomLong(random, broken != 1) : random.NextInt64(0, 1 << 30),
            LinkUp = random.Next(2) == 0,
            PrimaryAddress = random.Next(2) == 0 ? Name(random, broken != 0) : "",
            SyncInProgress = random.Next(5) == 0,
            Fenced = random.Next(5) == 0,
            TermSeen = broken == 2 ? RandomLong(random, valid: false) : random.NextInt64(0, 1000),
            LocalVerdict = (Verdict)RandomEnum(random),
            LocalVerdictName = random.Next(2) == 0 ? Name(random, broken != 0) : "",
            Sequence = random.Next(3) == 0 ? 0 : random.NextInt64(long.MinValue, long.MaxValue),
            RedisVersion = random.Next(2) == 0 ? RandomString(random) : "",
            Persistence = random.Next(2) == 0 ? RandomString(random, rare: 6) : "",
        };
        if (random.Next(3) != 0)
        {
            report.Settings = new Settings();
            if (random.Next(3) != 0)
            {
                report.Settings.TimeoutSeconds = broken == 3 && random.Next(2) == 0 ? (random.Next(2) == 0 ? -1 : (long)int.MaxValue + 1) : random.Next(0, 3) * 150;
            }

            if (random.Next(3) != 0)
            {
                report.Settings.MaxmemoryPolicy = Name(random, broken != 3);
            }
        }

        if (random.Next(3) == 0)
        {
            report.FailoverRequest = new FailoverRequest { Cause = (FailoverCause)RandomEnum(random), Reason = broken == 4 ? RandomString(random, rare: 3) : "restarting lost data" };
        }

        if (random.Next(4) == 0)
        {
            report.SelfFencedAt = RandomStamp(random, broken != 5);
        }

        if (random.Next(2) == 0)
        {
            report.PlanUsage = new PlanUsage
            {
                Plan = broken == 6 ? RandomString(random) : Words[random.Next(Words.Length)].Length <= 64 ? "premium-" + random.Next(3) : "",
                UsedMemoryBytes = broken == 6 && random.Next(2) == 0 ? -5 : random.NextInt64(0, 1L << 33),
                MemoryLimitBytes = random.Next(3) == 0 ? 0 : random.NextInt64(1, 1L << 33),
                ActiveConnections = random.Next(0, 100),
                ConnectionLimit = random.Next(3) == 0 ? 0 : random.Next(1, 1000),
                SampledAt = random.Next(4) == 0 ? null : RandomStamp(random, broken != 6),
            };
        }

        var count = random.Next(20) switch { 0 => 64, 1 => 65, 2 => 0, _ => random.Next(1, 5) };
        for (var k = 0; k < count; k++)
        {
            var bad = broken == 7 && random.Next(count) == 0;
            report.Observations.Add(new Observation
            {
                Target = Name(random, !bad) is { Length: > 0 } target ? target : "n" + k,
                Verdict = (Verdict)RandomEnum(random),
                VerdictName = random.Next(2) == 0 ? Name(random, !bad) : "",
                HostVerdict = (HostVerdict)RandomEnum(random),
                HostVerdictName = random.Next(2) == 0 ? Name(random, !bad) : "",
                Port = (PortOutcome)RandomEnum(random),
                PortName = random.Next(2) == 0 ? (bad ? RandomString(random, rare: 3) : Words[random.Next(17)]) : "",
                At = random.Next(5) == 0 ? null : RandomStamp(random, !bad),
                HostSilentSince = random.Next(3) == 0 ? RandomStamp(random, !bad) : null,
            });
        }

        return report;
    }

    /// <summary>
    /// A last report to share with: none, the record of this report, or of this one changed a little
    /// (so that some of its parts are equal to this one's and some not).
    /// </summary>
    private static NodeReport? Previous(Random random, Report report)
    {
        var choice = random.Next(4);
        if (choice == 0)
        {
            return null;
        }

        var other = report.Clone();
        if (choice >= 2)
        {
            other.ReplicationOffset = 5;
            other.PrimaryAddress = random.Next(2) == 0 ? "127.0.0.12:6379" : other.PrimaryAddress;
            other.RedisVersion = random.Next(2) == 0 ? "6.2.0" : other.RedisVersion;
            if (other.Settings is { } settings && random.Next(2) == 0)
            {
                settings.MaxmemoryPolicy = "volatile-lru";
            }

            if (other.PlanUsage is { } plan && random.Next(2) == 0)
            {
                plan.UsedMemoryBytes++;
            }

            if (other.Observations.Count > 0 && random.Next(2) == 0)
            {
                other.Observations[random.Next(other.Observations.Count)].At = Timestamp.FromDateTimeOffset(T0.AddSeconds(-1));
            }

            if (other.Observations.Count > 0 && random.Next(3) == 0)
            {
                other.Observations.RemoveAt(other.Observations.Count - 1);
            }
        }

        // The record as the coordinator kept it: read without checks (a report refused never becomes one,
        // but its parts still serve to compare), so only a report whose times are times.
        try
        {
            return AgentLinkService.ToReport(other);
        }
        catch (ArgumentException)
        {
            return null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The report's bytes, wrapped as an agent's message, with one thing done to them.</summary>
    private static byte[] Corrupt(Random random, byte[] report)
    {
        byte[] field = random.Next(6) switch
        {
            0 => new Report { Settings = new Settings { TimeoutSeconds = 1 } }.ToByteArray(),
            1 => new Report { Observations = { new Observation { Target = "n9", Verdict = Verdict.Healthy } } }.ToByteArray(),
            2 => new Report { ReplicationOffset = 77, RoleName = "master" }.ToByteArray(),
            3 => [(byte)((random.Next(1, 20) << 3) | random.Next(8)), .. RandomBytes(random, random.Next(0, 4))],
            4 => [0xF8, 0x06, .. RandomBytes(random, random.Next(0, 10))],
            _ => new Report { PlanUsage = new PlanUsage { Plan = "x" }, SelfFencedAt = new Timestamp() }.ToByteArray(),
        };
        var whole = Wrap(report);
        switch (random.Next(9))
        {
            case 0:
                // One byte of the message changed.
                if (whole.Length > 0)
                {
                    whole[random.Next(whole.Length)] = (byte)random.Next(256);
                }

                return whole;
            case 1:
                // Bits flipped in several places.
                for (var k = 0; k < 3 && whole.Length > 0; k++)
                {
                    whole[random.Next(whole.Length)] ^= (byte)(1 << random.Next(8));
                }

                return whole;
            case 2:
                return whole[..random.Next(whole.Length + 1)];
            case 3:
                // A field added to the report: a second message field (merged), a wrong wire type, an unknown field, a group.
                return Wrap([.. report, .. field]);
            case 4:
                return Wrap([.. field, .. report]);
            case 5:
                // Bytes after the report, in the message: another field of the message, or garbage.
                return [.. whole, .. random.Next(2) == 0 ? Wrap(field) : RandomBytes(random, random.Next(1, 6))];
            case 6:
                // A result or a registration instead, or with it.
                var other = random.Next(2) == 0
                    ? new AgentMessage { Result = new CommandResult { CommandId = "c", Ok = true } }.ToByteArray()
                    : new AgentMessage { Registration = new Registration { Resource = "r", Node = "n1" } }.ToByteArray();
                return random.Next(2) == 0 ? [.. whole, .. other] : [.. other, .. whole];
            case 7:
                // Bytes inserted somewhere.
                var at = random.Next(whole.Length + 1);
                return [.. whole[..at], .. RandomBytes(random, random.Next(1, 4)), .. whole[at..]];
            default:
                return whole;
        }
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    private sealed class Piece : ReadOnlySequenceSegment<byte>
    {
        public Piece(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Piece Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Piece(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
