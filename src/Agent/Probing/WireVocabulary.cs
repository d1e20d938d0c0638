using RedisAgent.HostProbing;
using RedisFailover.Protos;
using WireHostVerdict = RedisFailover.Protos.HostVerdict;
using RedisAgent.Node;

namespace RedisAgent.Probing;

// No discard arm: a named member left out is CS8509, an error. Values with no name (a cast) are not
// ours to produce, so CS8524 for them is off.
#pragma warning disable CS8524

/// <summary>
/// The agent's own judgements in the contract's words. Every switch names every member, so a member
/// added to or renamed in the agent fails the build here instead of changing what the coordinator decides.
/// </summary>
internal static class WireVocabulary
{
    public static Verdict ToWire(this NodeVerdict verdict) => verdict switch
    {
        NodeVerdict.Unknown => Verdict.Unknown,
        NodeVerdict.Healthy => Verdict.Healthy,
        NodeVerdict.Busy => Verdict.Busy,
        NodeVerdict.ProcessDown => Verdict.ProcessDown,
        NodeVerdict.HostUnreachable => Verdict.HostUnreachable,
        NodeVerdict.Hung => Verdict.Hung,
        NodeVerdict.Misconfigured => Verdict.Misconfigured,
    };

    public static WireHostVerdict ToWire(this HostProbing.HostVerdict verdict) => verdict switch
    {
        HostProbing.HostVerdict.Unknown => WireHostVerdict.Unknown,
        HostProbing.HostVerdict.Up => WireHostVerdict.Up,
        HostProbing.HostVerdict.Down => WireHostVerdict.Down,
        HostProbing.HostVerdict.Misconfigured => WireHostVerdict.Misconfigured,
    };

    public static PortOutcome ToWire(this PortProbeOutcome outcome) => outcome switch
    {
        PortProbeOutcome.Pong => PortOutcome.Pong,
        PortProbeOutcome.Busy => PortOutcome.Busy,
        PortProbeOutcome.OtherReply => PortOutcome.OtherReply,
        PortProbeOutcome.AuthFailed => PortOutcome.AuthFailed,
        PortProbeOutcome.TlsRejected => PortOutcome.TlsRejected,
        PortProbeOutcome.Refused => PortOutcome.Refused,
        PortProbeOutcome.Reset => PortOutcome.Reset,
        PortProbeOutcome.ConnectTimeout => PortOutcome.ConnectTimeout,
        PortProbeOutcome.Hung => PortOutcome.Hung,
        PortProbeOutcome.Failed => PortOutcome.Failed,
    };
}
