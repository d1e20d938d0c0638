using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using RedisFailover.Coordination;
using RedisFailover.Protos;

namespace RedisFailover.Services;

/// <summary>
/// An agent's report read from its bytes straight into the machine's record, with nothing of
/// protobuf's made on the way: no message objects, no timestamps, and no string where the same
/// node's last report already holds an equal one.
/// </summary>
/// <remarks>
/// <para>
/// Under a fleet the coordinator's allocations were mostly the generated parser's: a report's
/// strings, its observations, its timestamps and the message that holds them, about half of all it
/// allocated (docs/benchmarks.md), each alive until the report had been read into a
/// <see cref="NodeReport"/> and then garbage. This reader makes only what the machine keeps.
/// </para>
/// <para>
/// It is a shortcut, never a second meaning: it reads a report only in the shape an agent sends
/// (one report in the message, each field once but the observations, the wire types the contract
/// gives them) that passes every check of <see cref="WireLimits.ReportProblem"/>, and declines
/// anything else, which the generated parser then reads, checks and refuses with its reason as
/// before. What it does read equals <see cref="AgentLinkService.ToReport"/> of the parsed message:
/// <c>ReportReaderTests</c> compares the two on 132,000 generated and corrupted messages each run
/// (2.6 million once, when it was written; that comparison found the unchecked
/// <c>plan_usage.sampled_at</c> and that protobuf refuses a string that is not UTF-8).
/// </para>
/// </remarks>
internal static class ReportReader
{
    /// <summary>A message this long or shorter is copied to the stack when it arrives in pieces.</summary>
    private const int StackBytes = 2048;

    /// <summary>A string of this many bytes or fewer is decoded on the stack to be compared with the last report's.</summary>
    private const int StackChars = 1024;

    /// <summary>The most bytes an identifier of <see cref="WireLimits.MaxIdentifierLength"/> characters takes (three a character at most).</summary>
    private const int MaxIdentifierBytes = WireLimits.MaxIdentifierLength * 3;

    /// <summary>Decodes strings already checked to be UTF-8 (<see cref="Wire.TryString"/>), as the generated parser does.</summary>
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    /// <inheritdoc cref="TryRead(ReadOnlySpan{byte}, NodeReport?, out NodeReport?, out long)"/>
    public static bool TryRead(in ReadOnlySequence<byte> message, NodeReport? previous, [NotNullWhen(true)] out NodeReport? report, out long sequence)
    {
        if (message.IsSingleSegment)
        {
            return TryRead(message.FirstSpan, previous, out report, out sequence);
        }

        if (message.Length <= StackBytes)
        {
            Span<byte> copy = stackalloc byte[StackBytes];
            message.CopyTo(copy);
            return TryRead(copy[..(int)message.Length], previous, out report, out sequence);
        }

        var rented = ArrayPool<byte>.Shared.Rent((int)message.Length);
        try
        {
            message.CopyTo(rented);
            return TryRead(rented.AsSpan(0, (int)message.Length), previous, out report, out sequence);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Reads <paramref name="message"/>, an <see cref="AgentMessage"/>'s bytes, as the report it holds,
    /// sharing with <paramref name="previous"/> whatever equals it. False when the message is not a
    /// report in an agent's shape, or is one <see cref="WireLimits.ReportProblem"/> would refuse: the
    /// generated parser is then to read it.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> message, NodeReport? previous, [NotNullWhen(true)] out NodeReport? report, out long sequence)
    {
        report = null;
        sequence = 0;
        var outer = new Wire(message, 0, message.Length);
        // AgentMessage: its report (field 2, length-delimited) and nothing else.
        if (!outer.TryTag(out var field, out var type) || field != 2 || type != Wire.Length || !outer.TryLength(out var body) || !outer.AtEnd)
        {
            return false;
        }

        var fields = default(ReportFields);
        Span<ObservationFields> observations = stackalloc ObservationFields[WireLimits.MaxObservations];
        if (!TryReadReport(new Wire(message, body), ref fields, observations) || !Valid(message, in fields, observations[..fields.ObservationCount]))
        {
            return false;
        }

        report = Build(message, in fields, observations[..fields.ObservationCount], previous);
        sequence = fields.Sequence;
        return true;
    }

    private static bool TryReadReport(Wire wire, ref ReportFields f, Span<ObservationFields> observations)
    {
        while (!wire.AtEnd)
        {
            if (!wire.TryTag(out var field, out var type))
            {
                return false;
            }

            var read = (field, type) switch
            {
                (1, Wire.Length) => wire.TryString(out f.RoleName),
                (2, Wire.Varint) => wire.TryInt64(out f.Offset),
                (3, Wire.Varint) => wire.TryBool(out f.LinkUp),
                (4, Wire.Length) => wire.TryString(out f.PrimaryAddress),
                (5, Wire.Varint) => wire.TryBool(out f.SyncInProgress),
                (6, Wire.Length) => Once(ref f.HasSettings) && wire.TryLength(out var settings) && TryReadSettings(wire.Inner(settings), ref f),
                (7, Wire.Length) => f.ObservationCount < observations.Length && wire.TryLength(out var seen)
                    && TryReadObservation(wire.Inner(seen), ref observations[f.ObservationCount++]),
                (8, Wire.Varint) => wire.TryBool(out f.Fenced),
                (9, Wire.Varint) => wire.TryInt64(out f.TermSeen),
                (10, Wire.Length) => wire.TryString(out f.LocalVerdictName),
                (11, Wire.Varint) => wire.TryInt64(out f.Sequence),
                (12, Wire.Varint) => wire.TryInt32(out f.Role),
                (13, Wire.Varint) => wire.TryInt32(out f.LocalVerdict),
                (14, Wire.Length) => Once(ref f.HasRequest) && wire.TryLength(out var request) && TryReadRequest(wire.Inner(request), ref f),
                (15, Wire.Length) => Once(ref f.HasSelfFencedAt) && wire.TryLength(out var fenced) && TryReadStamp(wire.Inner(fenced), ref f.SelfFencedAt),
                (16, Wire.Length) => wire.TryString(out f.RedisVersion),
                (17, Wire.Length) => wire.TryString(out f.Persistence),
                (18, Wire.Length) => Once(ref f.HasPlan) && wire.TryLength(out var plan) && TryReadPlan(wire.Inner(plan), ref f),
                _ => Known(field) ? false : wire.TrySkip(type),
            };
            if (!read)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A field number the report has: met with another wire type than its own, the generated parser keeps it as an unknown field, a case left to it.</summary>
    private static bool Known(uint field) => field is >= 1 and <= 18;

    /// <summary>
    /// True the first time a message field is met. A message field given twice is merged by protobuf
    /// (the second's fields over the first's): no agent sends one twice, and the generated parser reads it.
    /// </summary>
    private static bool Once(ref bool seen)
    {
        if (seen)
        {
            return false;
        }

        seen = true;
        return true;
    }

    private static bool TryReadSettings(Wire wire, ref ReportFields f)
    {
        while (!wire.AtEnd)
        {
            if (!wire.TryTag(out var field, out var type))
            {
                return false;
            }

            var read = (field, type) switch
            {
                (1, Wire.Varint) => wire.TryInt64(out f.TimeoutSeconds) && Set(ref f.HasTimeout),
                (2, Wire.Length) => wire.TryString(out f.Policy) && Set(ref f.HasPolicy),
                _ => field is 1 or 2 ? false : wire.TrySkip(type),
            };
            if (!read)
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryReadRequest(Wire wire, ref ReportFields f)
    {
        while (!wire.AtEnd)
        {
            if (!wire.TryTag(out var field, out var type))
            {
                return false;
            }

            var read = (field, type) switch
            {
                (1, Wire.Varint) => wire.TryInt32(out f.Cause),
                (2, Wire.Length) => wire.TryString(out f.Reason),
                _ => field is 1 or 2 ? false : wire.TrySkip(type),
            };
            if (!read)
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryReadPlan(Wire wire, ref ReportFields f)
    {
        while (!wire.AtEnd)
        {
            if (!wire.TryTag(out var field, out var type))
            {
                return false;
            }

            var read = (field, type) switch
            {
                (1, Wire.Length) => wire.TryString(out f.Plan),
                (2, Wire.Varint) => wire.TryInt64(out f.UsedMemory),
                (3, Wire.Varint) => wire.TryInt64(out f.MemoryLimit),
                (4, Wire.Varint) => wire.TryInt64(out f.Connections),
                (5, Wire.Varint) => wire.TryInt64(out f.ConnectionLimit),
                (6, Wire.Length) => Once(ref f.HasSampledAt) && wire.TryLength(out var sampled) && TryReadStamp(wire.Inner(sampled), ref f.SampledAt),
                _ => field is >= 1 and <= 6 ? false : wire.TrySkip(type),
            };
            if (!read)
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryReadObservation(Wire wire, ref ObservationFields o)
    {
        o = default;
        while (!wire.AtEnd)
        {
            if (!wire.TryTag(out var field, out var type))
            {
                return false;
            }

            var read = (field, type) switch
            {
                (1, Wire.Length) => wire.TryString(out o.Target),
                (2, Wire.Length) => wire.TryString(out o.VerdictName),
                (3, Wire.Length) => wire.TryString(out o.HostVerdictName),
                (4, Wire.Length) => Once(ref o.HasAt) && wire.TryLength(out var at) && TryReadStamp(wire.Inner(at), ref o.At),
                (5, Wire.Length) => wire.TryString(out o.PortName),
                (6, Wire.Varint) => wire.TryInt32(out o.Verdict),
                (7, Wire.Varint) => wire.TryInt32(out o.HostVerdict),
                (8, Wire.Varint) => wire.TryInt32(out o.Port),
                (9, Wire.Length) => Once(ref o.HasSilentSince) && wire.TryLength(out var silent) && TryReadStamp(wire.Inner(silent), ref o.SilentSince),
                _ => field is >= 1 and <= 9 ? false : wire.TrySkip(type),
            };
            if (!read)
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryReadStamp(Wire wire, ref Stamp stamp)
    {
        while (!wire.AtEnd)
        {
            if (!wire.TryTag(out var field, out var type))
            {
                return false;
            }

            var read = (field, type) switch
            {
                (1, Wire.Varint) => wire.TryInt64(out stamp.Seconds),
                (2, Wire.Varint) => wire.TryInt32(out stamp.Nanos),
                _ => field is 1 or 2 ? false : wire.TrySkip(type),
            };
            if (!read)
            {
                return false;
            }
        }

        return true;
    }

    private static bool Set(ref bool flag) => flag = true;

    /// <summary>Every check of <see cref="WireLimits.ReportProblem"/>: false where it would name a problem.</summary>
    private static bool Valid(ReadOnlySpan<byte> m, in ReportFields f, ReadOnlySpan<ObservationFields> observations)
    {
        if (f.Offset < 0 || !Term(f.TermSeen))
        {
            return false;
        }

        if (f.HasPlan && (f.UsedMemory < 0 || f.MemoryLimit < 0 || f.Connections < 0 || f.ConnectionLimit < 0 || Utf8.GetCharCount(m.Slice(f.Plan.Start, f.Plan.Length)) > 64))
        {
            return false;
        }

        if (!Identifier(m, f.RoleName) || !Identifier(m, f.LocalVerdictName) || !Identifier(m, f.PrimaryAddress))
        {
            return false;
        }

        if (f.HasSettings && ((f.HasTimeout && f.TimeoutSeconds is < 0 or > int.MaxValue) || (f.HasPolicy && !Identifier(m, f.Policy))))
        {
            return false;
        }

        if ((f.HasRequest && !Text(m, f.Reason)) || (f.HasSelfFencedAt && !Time(f.SelfFencedAt)) || (f.HasSampledAt && !Time(f.SampledAt)))
        {
            return false;
        }

        foreach (ref readonly var o in observations)
        {
            if ((o.HasAt && !Time(o.At)) || (o.HasSilentSince && !Time(o.SilentSince))
                || !Identifier(m, o.Target) || !Identifier(m, o.VerdictName) || !Identifier(m, o.HostVerdictName) || !Text(m, o.PortName))
            {
                return false;
            }
        }

        return true;
    }

    private static bool Term(long term) => term is >= 0 and <= WireLimits.MaxTerm;

    /// <summary>A timestamp protobuf can turn into a time: years 1 to 9999, nanos under a second.</summary>
    private static bool Time(Stamp stamp) => stamp.Seconds is >= -62_135_596_800 and <= 253_402_300_799 && stamp.Nanos is >= 0 and < 1_000_000_000;

    private static bool Text(ReadOnlySpan<byte> m, Slice slice) =>
        slice.Length <= WireLimits.MaxTextLength || Utf8.GetCharCount(m.Slice(slice.Start, slice.Length)) <= WireLimits.MaxTextLength;

    /// <summary>No more than <see cref="WireLimits.MaxIdentifierLength"/> characters, none a control character.</summary>
    private static bool Identifier(ReadOnlySpan<byte> m, Slice slice)
    {
        if (slice.Length == 0)
        {
            return true;
        }

        if (slice.Length > MaxIdentifierBytes)
        {
            return false;
        }

        Span<char> chars = stackalloc char[slice.Length];
        var count = Utf8.GetChars(m.Slice(slice.Start, slice.Length), chars);
        return RedisShared.Hosting.Quoted.IsPlain(chars[..count], WireLimits.MaxIdentifierLength);
    }

    /// <summary>The record <see cref="AgentLinkService.ToReport"/> makes of the same report, sharing with <paramref name="previous"/> what equals it.</summary>
    private static NodeReport Build(ReadOnlySpan<byte> m, in ReportFields f, ReadOnlySpan<ObservationFields> observations, NodeReport? previous)
    {
        var settings = Settings(m, in f, previous?.Settings);
        PlanSample? plan = null;
        if (f.HasPlan)
        {
            var at = f.HasSampledAt ? ToTime(f.SampledAt) : DateTimeOffset.MinValue;
            var memoryLimit = f.MemoryLimit > 0 ? f.MemoryLimit : (long?)null;
            var connectionLimit = f.ConnectionLimit > 0 ? f.ConnectionLimit : (long?)null;
            var before = previous?.Plan;
            plan = before is not null && before.UsedMemory == f.UsedMemory && before.MemoryLimit == memoryLimit && before.Connections == f.Connections
                && before.ConnectionLimit == connectionLimit && before.At == at && Equal(m, f.Plan, before.Plan, 64)
                ? before
                : new PlanSample(String(m, f.Plan, before?.Plan, 64), f.UsedMemory, memoryLimit, f.Connections, connectionLimit, at);
        }

        return new NodeReport(
            Vocabulary.Read((NodeRole)f.Role, Legacy((NodeRole)f.Role, m, f.RoleName)),
            f.Offset,
            f.LinkUp,
            f.PrimaryAddress.Length == 0 ? null : String(m, f.PrimaryAddress, previous?.PrimaryAddress),
            f.SyncInProgress,
            Vocabulary.Read((Verdict)f.LocalVerdict, Legacy((Verdict)f.LocalVerdict, m, f.LocalVerdictName)),
            f.Fenced,
            f.TermSeen,
            settings,
            Observations(m, observations, previous?.Observations),
            f.HasRequest ? new FailoverAsk(Enum.IsDefined((FailoverCause)f.Cause) ? (FailoverCause)f.Cause : FailoverCause.Unspecified, WireLimits.Printable(String(m, f.Reason, null), 500)) : null,
            f.HasSelfFencedAt ? ToTime(f.SelfFencedAt) : null,
            String(m, f.RedisVersion, previous?.RedisVersion, 40),
            String(m, f.Persistence, previous?.Persistence, 120),
            plan);
    }

    private static ResourceSettings Settings(ReadOnlySpan<byte> m, in ReportFields f, ResourceSettings? previous)
    {
        var timeout = f.HasTimeout ? f.TimeoutSeconds : (long?)null;
        if (previous is not null && previous.TimeoutSeconds == timeout
            && (f.HasPolicy ? previous.MaxMemoryPolicy is { } policy && Equal(m, f.Policy, policy) : previous.MaxMemoryPolicy is null))
        {
            return previous;
        }

        return new ResourceSettings(timeout, f.HasPolicy ? String(m, f.Policy, null) : null);
    }

    private static IReadOnlyList<TargetSeen> Observations(ReadOnlySpan<byte> m, ReadOnlySpan<ObservationFields> observations, IReadOnlyList<TargetSeen>? previous)
    {
        if (observations.Length == 0)
        {
            return [];
        }

        TargetSeen[]? seen = null;
        for (var i = 0; i < observations.Length; i++)
        {
            ref readonly var o = ref observations[i];
            var before = previous is not null && i < previous.Count ? previous[i] : null;
            var verdict = Vocabulary.Read((Verdict)o.Verdict, Legacy((Verdict)o.Verdict, m, o.VerdictName));
            var host = Vocabulary.Read((HostVerdict)o.HostVerdict, Legacy((HostVerdict)o.HostVerdict, m, o.HostVerdictName));
            var at = o.HasAt ? ToTime(o.At) : DateTimeOffset.MinValue;
            var port = Vocabulary.Read((PortOutcome)o.Port, Legacy((PortOutcome)o.Port, m, o.PortName));
            DateTimeOffset? silent = o.HasSilentSince ? ToTime(o.SilentSince) : null;
            var now = before is not null && before.Verdict == verdict && before.HostVerdict == host && before.At == at && before.Port == port
                && before.HostSilentSince == silent && Equal(m, o.Target, before.Target)
                ? before
                : new TargetSeen(String(m, o.Target, before?.Target), verdict, host, at, port, silent);
            if (seen is null && (previous is null || previous.Count != observations.Length || !ReferenceEquals(now, before)))
            {
                // The first that differs from the last report: from here on a new list, with the ones before it.
                seen = new TargetSeen[observations.Length];
                for (var k = 0; k < i; k++)
                {
                    seen[k] = previous![k];
                }
            }

            if (seen is not null)
            {
                seen[i] = now;
            }
        }

        // Every observation as before, as many as before: the last report's list.
        return seen ?? previous!;
    }

    /// <summary>The previous release's name of a word, read (as a string) only when the enum is unset or unknown, as <see cref="Vocabulary"/> would.</summary>
    private static string? Legacy<T>(T value, ReadOnlySpan<byte> m, Slice name) where T : struct, Enum =>
        !EqualityComparer<T>.Default.Equals(value, default) && Enum.IsDefined(value) ? null : String(m, name, null);

    /// <summary>Protobuf's <c>Timestamp.ToDateTimeOffset</c>, of a timestamp already checked to be a time.</summary>
    private static DateTimeOffset ToTime(Stamp stamp) => DateTimeOffset.UnixEpoch.AddSeconds(stamp.Seconds).AddTicks(stamp.Nanos / 100);

    /// <summary>
    /// True when the string in <paramref name="slice"/>, made printable to <paramref name="printable"/>
    /// characters (0: as it is), is <paramref name="value"/>; decided without making the string when
    /// it is short and already printable, as it nearly always is.
    /// </summary>
    private static bool Equal(ReadOnlySpan<byte> m, Slice slice, string value, int printable = 0)
    {
        var bytes = m.Slice(slice.Start, slice.Length);
        if (bytes.Length > StackChars)
        {
            return string.Equals(Made(bytes, printable), value, StringComparison.Ordinal);
        }

        Span<char> chars = stackalloc char[bytes.Length];
        var text = chars[..Utf8.GetChars(bytes, chars)];
        return Plain(text, printable) ? text.SequenceEqual(value) : string.Equals(Made(bytes, printable), value, StringComparison.Ordinal);
    }

    /// <summary>The string in <paramref name="slice"/> (made printable, when <paramref name="printable"/> is not 0): <paramref name="previous"/> itself when equal to it.</summary>
    private static string String(ReadOnlySpan<byte> m, Slice slice, string? previous, int printable = 0)
    {
        if (slice.Length == 0)
        {
            return previous is "" ? previous : Made([], printable);
        }

        if (previous is not null && Equal(m, slice, previous, printable))
        {
            return previous;
        }

        return Made(m.Slice(slice.Start, slice.Length), printable);
    }

    private static string Made(ReadOnlySpan<byte> bytes, int printable)
    {
        var value = bytes.IsEmpty ? "" : Utf8.GetString(bytes);
        return printable > 0 ? WireLimits.Printable(value, printable) : value;
    }

    /// <summary>True when <see cref="WireLimits.Printable"/> would return <paramref name="text"/> as it is.</summary>
    private static bool Plain(ReadOnlySpan<char> text, int printable) =>
        printable == 0 || RedisShared.Hosting.Quoted.IsPlain(text, printable);

    /// <summary>Where a length-delimited field's bytes are in the message.</summary>
    private readonly record struct Slice(int Start, int Length);

    private struct Stamp
    {
        public long Seconds;
        public int Nanos;
    }

    /// <summary>A report's fields as found: numbers as they are, strings and messages as where they are.</summary>
    private struct ReportFields
    {
        public Slice RoleName, PrimaryAddress, LocalVerdictName, RedisVersion, Persistence, Policy, Reason, Plan;
        public long Offset, TermSeen, Sequence, TimeoutSeconds, UsedMemory, MemoryLimit, Connections, ConnectionLimit;
        public int Role, LocalVerdict, Cause, ObservationCount;
        public bool LinkUp, SyncInProgress, Fenced, HasSettings, HasTimeout, HasPolicy, HasRequest, HasSelfFencedAt, HasPlan, HasSampledAt;
        public Stamp SelfFencedAt, SampledAt;
    }

    private struct ObservationFields
    {
        public Slice Target, VerdictName, HostVerdictName, PortName;
        public int Verdict, HostVerdict, Port;
        public bool HasAt, HasSilentSince;
        public Stamp At, SilentSince;
    }

    /// <summary>Protobuf's wire format, read as the generated parser reads it; every method false where that parser would throw (and in a few rarer cases it would accept: the parser then decides).</summary>
    private ref struct Wire(ReadOnlySpan<byte> data, int position, int end)
    {
        public const int Varint = 0;
        public const int Fixed64 = 1;
        public const int Length = 2;
        public const int Fixed32 = 5;

        private readonly ReadOnlySpan<byte> _data = data;
        private readonly int _end = end;
        private int _position = position;

        public Wire(ReadOnlySpan<byte> data, Slice slice)
            : this(data, slice.Start, slice.Start + slice.Length)
        {
        }

        public readonly bool AtEnd => _position == _end;

        public readonly Wire Inner(Slice slice) => new(_data, slice);

        public bool TryTag(out uint field, out int type)
        {
            field = 0;
            type = 0;
            if (!TryVarint(out var tag) || tag > uint.MaxValue)
            {
                return false;
            }

            field = (uint)tag >> 3;
            type = (int)(tag & 7);
            return field != 0;
        }

        public bool TryInt64(out long value)
        {
            var read = TryVarint(out var raw);
            value = (long)raw;
            return read;
        }

        /// <summary>An enum or an int32: the low 32 bits of a varint of up to ten bytes, as protobuf reads them.</summary>
        public bool TryInt32(out int value)
        {
            var read = TryVarint(out var raw);
            value = (int)(uint)raw;
            return read;
        }

        public bool TryBool(out bool value)
        {
            var read = TryVarint(out var raw);
            value = raw != 0;
            return read;
        }

        public bool TryLength(out Slice slice)
        {
            slice = default;
            if (!TryVarint(out var length) || length > (ulong)(_end - _position))
            {
                return false;
            }

            slice = new Slice(_position, (int)length);
            _position += (int)length;
            return true;
        }

        /// <summary>A string field: its bytes must be UTF-8, or the generated parser refuses the message (each occurrence, even one a later one replaces).</summary>
        public bool TryString(out Slice slice) => TryLength(out slice) && System.Text.Unicode.Utf8.IsValid(_data.Slice(slice.Start, slice.Length));

        /// <summary>Past a field this reader does not know; a group (wire types 3 and 4, of proto2) or an invalid type is left to the generated parser.</summary>
        public bool TrySkip(int type)
        {
            switch (type)
            {
                case Varint:
                    return TryVarint(out _);
                case Fixed64:
                    return Advance(8);
                case Length:
                    return TryLength(out _);
                case Fixed32:
                    return Advance(4);
                default:
                    return false;
            }
        }

        private bool Advance(int bytes)
        {
            if (_end - _position < bytes)
            {
                return false;
            }

            _position += bytes;
            return true;
        }

        /// <summary>A varint of at most ten bytes; the bits past 64 of a tenth byte are dropped, as protobuf drops them.</summary>
        private bool TryVarint(out ulong value)
        {
            value = 0;
            for (var shift = 0; shift < 70; shift += 7)
            {
                if (_position >= _end)
                {
                    return false;
                }

                var b = _data[_position++];
                value |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80)
                {
                    return true;
                }
            }

            return false;
        }
    }
}
