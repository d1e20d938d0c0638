using System.Threading.Channels;
using RedisAgent.Probing;
using RedisAgent.Node;

namespace RedisAgent.Supervision;

/// <summary>Something the supervisor must react to.</summary>
internal abstract record SupervisorSignal
{
    /// <summary>A port probe finished; <paramref name="Change"/> is set when it changed the verdict.</summary>
    public sealed record Probed(PortProbeResult Result, NodeVerdict Verdict, VerdictChange? Change) : SupervisorSignal;

    /// <summary>A host probe (SSH) finished; <paramref name="Change"/> is set when it changed the node's verdict.</summary>
    public sealed record HostProbed(HostProbing.HostProbeResult Result, NodeVerdict Verdict, VerdictChange? Change) : SupervisorSignal;

    public sealed record ProcessExited(int ProcessId, ExitStatus Status, DateTimeOffset At) : SupervisorSignal;

    /// <summary>The restart lease was granted, renewed, ended or voided.</summary>
    public sealed record LeaseChanged : SupervisorSignal;
}

/// <summary>
/// The supervisor's single queue. Every input (verdicts from the probe loop, exits from the
/// exec driver) goes through it, so the supervisor decides on one thread, one event at a time.
/// </summary>
internal sealed class SupervisorInbox
{
    private readonly Channel<SupervisorSignal> _channel =
        Channel.CreateUnbounded<SupervisorSignal>(new UnboundedChannelOptions { SingleReader = true });

    public void Post(SupervisorSignal signal) => _channel.Writer.TryWrite(signal);

    public ChannelReader<SupervisorSignal> Reader => _channel.Reader;
}
