using RedisAgent.HostProbing;
using RedisAgent.Node;

namespace RedisAgent.Probing;

/// <summary>
/// One verdict from all the evidence about a node: its Redis port and, when configured, its host
/// over SSH. Pure. The rules, and why:
/// <list type="bullet">
/// <item>A port that answers decides alone: a node serving PING is up, whatever SSH says (sshd may be stopped).</item>
/// <item>A refused or reset port means the host's kernel answered: the host is alive, the process is down.</item>
/// <item>A silent port (no connect) needs the host's word: SSH answering (even refusing our key, even
/// with a reset) means the host is alive and the process is down; SSH silent too means the host is unreachable.</item>
/// <item>Without host evidence yet, a silent port decides nothing: better no verdict than a restart aimed at a lost host.</item>
/// </list>
/// </summary>
internal static class NodeJudgement
{
    /// <returns>The combined verdict, or null when the evidence does not decide yet (keep the previous verdict).</returns>
    public static NodeVerdict? Combine(NodeVerdict port, PortProbeOutcome? lastPortOutcome, HostVerdict host, bool hostProbed)
    {
        if (port != NodeVerdict.ProcessDown)
        {
            return port;
        }

        if (!hostProbed || lastPortOutcome is PortProbeOutcome.Refused or PortProbeOutcome.Reset)
        {
            return NodeVerdict.ProcessDown;
        }

        return host switch
        {
            HostVerdict.Down => NodeVerdict.HostUnreachable,
            HostVerdict.Up or HostVerdict.Misconfigured => NodeVerdict.ProcessDown,
            _ => null,
        };
    }
}
