using RedisAgent.HostProbing;
using RedisAgent.Node;

namespace RedisAgent.Probing;

/// <summary>
/// Keeps the port and host policies of one target and their combined verdict. The port loop and
/// the host loop each report here from their own thread; the lock makes each report and the
/// verdict it produces one step.
/// </summary>
internal sealed class TargetJudge(VerdictOptions options, bool hostProbed)
{
    private readonly Lock _lock = new();
    private readonly VerdictPolicy _port = new(options);
    private readonly HostVerdictPolicy _host = new(options.FailuresToDown, options.SuccessesToUp);
    private PortProbeResult? _lastPort;

    // A silent port (no connect at all) is a dead process only on a host that answers while the port
    // is silent. Two stale pieces of evidence must not decide it: a host answer from before the silence
    // began (a partition starting: its port probes fail faster than its SSH verdict settles), and a
    // silent port probe from before the host answered again (a partition healing).
    private DateTimeOffset? _silentSince;
    private DateTimeOffset? _lastHostAnswer;
    private DateTimeOffset? _hostAnsweredSince;

    public NodeVerdict Verdict { get; private set; } = NodeVerdict.Unknown;

    public bool HostProbed => hostProbed;

    public HostVerdict HostVerdict
    {
        get
        {
            lock (_lock)
            {
                return _host.Current;
            }
        }
    }

    public bool PortSettled
    {
        get
        {
            lock (_lock)
            {
                return _port.IsSettled;
            }
        }
    }

    public bool HostSettled
    {
        get
        {
            lock (_lock)
            {
                return _host.IsSettled;
            }
        }
    }

    public (NodeVerdict Verdict, VerdictChange? Change) ObservePort(PortProbeResult result)
    {
        lock (_lock)
        {
            var portChange = _port.Observe(result);
            _lastPort = result;
            _silentSince = Silent(result.Outcome) ? _silentSince ?? result.At : null;
            return Decide(result.At, portChange?.Observations ?? 1, null);
        }
    }

    public (NodeVerdict Verdict, VerdictChange? Change, HostVerdictChange? HostChange) ObserveHost(HostProbeResult result)
    {
        lock (_lock)
        {
            var hostChange = _host.Observe(result);
            if (result.HostAnswered)
            {
                _lastHostAnswer = result.At;
            }

            if (hostChange is { To: HostVerdict.Up or HostVerdict.Misconfigured })
            {
                _hostAnsweredSince = hostChange.At;
            }

            var (verdict, change) = Decide(result.At, hostChange?.Observations ?? 1, result);
            return (verdict, change, hostChange);
        }
    }

    private (NodeVerdict, VerdictChange?) Decide(DateTimeOffset at, int observations, HostProbeResult? hostEvidence)
    {
        var combined = NodeJudgement.Combine(_port.Current, _lastPort?.Outcome, _host.Current, hostProbed);
        if (combined is not { } next || next == Verdict || _lastPort is null)
        {
            return (Verdict, null);
        }

        if (next == NodeVerdict.ProcessDown && hostProbed && Silent(_lastPort.Outcome)
            && (_lastHostAnswer is not { } answered || answered < _silentSince || (_hostAnsweredSince is { } since && _lastPort.At < since)))
        {
            // The next port or host observation decides: restarting a healthy Redis, or one whose
            // host is going away, would be the harm.
            return (Verdict, null);
        }

        var change = new VerdictChange(Verdict, next, at, _lastPort, observations, hostEvidence);
        Verdict = next;
        return (Verdict, change);
    }

    private static bool Silent(PortProbeOutcome outcome) => RedisFailover.Protos.Vocabulary.IsSilence(outcome.ToWire());
}
