namespace RedisAgent.Coordination;

/// <summary>
/// Whether the coordinator is there, as the stream sees it: written by <see cref="CoordinatorLink"/>,
/// read by the isolation fence and the health checks, so that none of them needs the stream itself.
/// </summary>
internal sealed class LinkState
{
    private long _lastHeard;
    private volatile bool _connected;

    /// <summary>True while a stream to the coordinator is open and welcomed.</summary>
    public bool Connected
    {
        get => _connected;
        set
        {
            var was = _connected;
            _connected = value;
            if (was && !value)
            {
                Lost.Wake();
            }
        }
    }

    /// <summary>Woken when an open stream closes, so that a loop sleeping on the coordinator's last word looks again at once.</summary>
    public Node.ProbeWakeup Lost { get; } = new();

    /// <summary>When the coordinator was last heard from (a welcome or a command), as a <see cref="TimeProvider"/> timestamp; 0: never.</summary>
    public long LastHeard => Interlocked.Read(ref _lastHeard);

    public void Heard(long timestamp) => Interlocked.Exchange(ref _lastHeard, timestamp);
}
