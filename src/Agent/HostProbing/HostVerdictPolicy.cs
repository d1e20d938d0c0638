using RedisAgent.Probing;

namespace RedisAgent.HostProbing;

/// <summary>The agent's settled view of a host from consecutive SSH observations.</summary>
internal enum HostVerdict
{
    Unknown,

    /// <summary>Something on the host answers (sshd, or its kernel with a reset).</summary>
    Up,

    /// <summary>Silence, observation after observation.</summary>
    Down,

    /// <summary>The host answers but refuses the agent's key, or shows a key that is not the pinned one.</summary>
    Misconfigured,
}

/// <summary>A host verdict change and the observation that settled it.</summary>
internal sealed record HostVerdictChange(HostVerdict From, HostVerdict To, DateTimeOffset At, HostProbeResult Evidence, int Observations);

/// <summary>Pure, like <see cref="VerdictPolicy"/>: silence must repeat before a host is down, and so must an answer before it is up.</summary>
internal sealed class HostVerdictPolicy(int failuresToDown, int successesToUp)
{
    private HostVerdict? _lastSignal;
    private int _streak;

    public HostVerdict Current { get; private set; } = HostVerdict.Unknown;

    public bool IsSettled => _lastSignal is null || _lastSignal == Current;

    public HostVerdictChange? Observe(HostProbeResult observation)
    {
        var signal = observation.IsConfigurationFault ? HostVerdict.Misconfigured
            : observation.HostAnswered ? HostVerdict.Up
            : HostVerdict.Down;
        _streak = _lastSignal == signal ? _streak + 1 : 1;
        _lastSignal = signal;
        var needed = signal == HostVerdict.Down ? failuresToDown : successesToUp;
        if (_streak < needed || signal == Current)
        {
            return null;
        }

        var change = new HostVerdictChange(Current, signal, observation.At, observation, _streak);
        Current = signal;
        return change;
    }
}
