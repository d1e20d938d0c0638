using RedisAgent.HostProbing;

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
            return Decide(result.At, portChange?.Observations ?? 1, null);
        }
    }

    public (NodeVerdict Verdict, VerdictChange? Change, HostVerdictChange? HostChange) ObserveHost(HostProbeResult result)
    {
        lock (_lock)
        {
            var hostChange = _host.Observe(result);
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

        var change = new VerdictChange(Verdict, next, at, _lastPort, observations, hostEvidence);
        Verdict = next;
        return (Verdict, change);
    }
}
