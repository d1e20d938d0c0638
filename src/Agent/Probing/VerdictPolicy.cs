using RedisAgent.Node;

namespace RedisAgent.Probing;

/// <summary>
/// Turns a sequence of port observations into a verdict. Pure: no clock, no I/O; time comes
/// from the observations themselves, so tests drive it with any timestamps they like.
/// One blip changes nothing: every verdict needs a run of agreeing observations.
/// </summary>
internal sealed class VerdictPolicy(VerdictOptions options)
{
    private enum Signal
    {
        Answered,
        Busy,
        AuthFailed,
        Down,
        Hung,
    }

    private Signal? _lastSignal;
    private int _answerStreak;
    private int _failureStreak;
    private DateTimeOffset? _hungSince;

    public NodeVerdict Current { get; private set; } = NodeVerdict.Unknown;

    /// <summary>
    /// True when the last observation agrees with the current verdict. While it does not, the
    /// monitor probes at its faster retry interval to settle the question quickly.
    /// </summary>
    public bool IsSettled => _lastSignal is null || VerdictOf(_lastSignal.Value) == Current;

    public VerdictChange? Observe(PortProbeResult observation)
    {
        var signal = SignalOf(observation.Outcome);
        NodeVerdict? target = null;
        int count;

        if (signal is Signal.Down or Signal.Hung)
        {
            _answerStreak = 0;
            _failureStreak++;
            count = _failureStreak;
            if (signal == Signal.Hung)
            {
                _hungSince ??= observation.At;
                if (_failureStreak >= options.FailuresToDown && observation.At - _hungSince.Value >= options.HangThreshold)
                {
                    target = NodeVerdict.Hung;
                }
            }
            else
            {
                _hungSince = null;
                if (_failureStreak >= options.FailuresToDown)
                {
                    target = NodeVerdict.ProcessDown;
                }
            }
        }
        else
        {
            _failureStreak = 0;
            _hungSince = null;
            _answerStreak = _lastSignal == signal ? _answerStreak + 1 : 1;
            count = _answerStreak;
            if (_answerStreak >= options.SuccessesToUp)
            {
                target = VerdictOf(signal);
            }
        }

        _lastSignal = signal;
        if (target is not { } to || to == Current)
        {
            return null;
        }

        var change = new VerdictChange(Current, to, observation.At, observation, count);
        Current = to;
        return change;
    }

    private static Signal SignalOf(PortProbeOutcome outcome) => outcome switch
    {
        PortProbeOutcome.Pong or PortProbeOutcome.OtherReply => Signal.Answered,
        PortProbeOutcome.Busy => Signal.Busy,
        PortProbeOutcome.AuthFailed or PortProbeOutcome.TlsRejected => Signal.AuthFailed,
        PortProbeOutcome.Hung => Signal.Hung,
        _ => Signal.Down,
    };

    private static NodeVerdict VerdictOf(Signal signal) => signal switch
    {
        Signal.Answered => NodeVerdict.Healthy,
        Signal.Busy => NodeVerdict.Busy,
        Signal.AuthFailed => NodeVerdict.Misconfigured,
        Signal.Hung => NodeVerdict.Hung,
        _ => NodeVerdict.ProcessDown,
    };
}
