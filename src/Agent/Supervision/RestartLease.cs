namespace RedisAgent.Supervision;

/// <summary>
/// The coordinator's permission to restart the local Redis. An agent that works alone (no
/// <c>Coordinator:Url</c>) needs none. An agent under a coordinator holds one granted for a
/// time-to-live and renewed while the link lasts, ended by the coordinator while the node's host is
/// under confirmation, and voided by the agent itself when it fences its isolated primary. A
/// coordinator that answers and withholds the lease holds the restart back.
/// <para>
/// A coordinator that does not answer never does: with no lease and no coordinator (the link is
/// down, or the lease ran out unrenewed), a restart goes ahead <see cref="Alone"/>, and the node
/// comes back fenced (writes paused, reads served), or as a replica of its last primary if it was
/// one, until a coordinator says what it is. So an outage of the coordinator costs a restarted
/// primary its writes until one returns, never the process, and never a second writable primary.
/// </para>
/// </summary>
internal sealed class RestartLease(TimeProvider time, bool required) : IDisposable
{
    private readonly Lock _lock = new();
    private bool _linkUp;
    private ITimer? _expiry;
    private DateTimeOffset _expires = DateTimeOffset.MinValue;
    private bool _fenceOnStart;
    private bool _noStandby;
    private bool _notPrimary;
    private string _why = "no lease granted yet by the coordinator";

    /// <summary>Raised after every grant, end or void (the supervisor re-examines a held restart).</summary>
    public event Action? Changed;

    /// <summary>False for an agent without a coordinator: it restarts on its own judgement.</summary>
    public bool Required => required;

    /// <summary>True when a restart may go ahead now: under the coordinator's lease, or <see cref="Alone"/>.</summary>
    public bool IsHeld
    {
        get
        {
            if (!required)
            {
                return true;
            }

            lock (_lock)
            {
                return time.GetUtcNow() < _expires || AloneLocked();
            }
        }
    }

    /// <summary>
    /// True when a restart goes ahead without the coordinator's word: no lease is in force and no
    /// coordinator answers (the link is down, or the lease ran out because nobody renewed it). A
    /// coordinator that is there and ended the lease, or has not granted one yet, holds the restart.
    /// </summary>
    public bool Alone
    {
        get
        {
            if (!required)
            {
                return false;
            }

            lock (_lock)
            {
                return AloneLocked();
            }
        }
    }

    private bool AloneLocked() =>
        time.GetUtcNow() >= _expires && (!_linkUp || _why.Length == 0);

    /// <summary>
    /// The node must be fenced (writes refused) as soon as it answers after a restart: the lease says
    /// it is not the resource's primary, or it restarts <see cref="Alone"/> and nobody has said it still is.
    /// </summary>
    public bool FenceOnStart
    {
        get
        {
            if (!required)
            {
                return false;
            }

            lock (_lock)
            {
                return time.GetUtcNow() < _expires ? _fenceOnStart : AloneLocked();
            }
        }
    }

    /// <summary>
    /// Whether a stream to a coordinator is open (the link says so on every connect and loss). The
    /// restart held for a lease is examined again at once: a coordinator's loss must not hold it.
    /// </summary>
    public void Link(bool up)
    {
        lock (_lock)
        {
            if (_linkUp == up)
            {
                return;
            }

            _linkUp = up;
        }

        Changed?.Invoke();
    }

    /// <summary>The node is the primary and the coordinator has no standby in sync: nothing can replace it.</summary>
    public bool NoStandby
    {
        get
        {
            lock (_lock)
            {
                return required && _noStandby;
            }
        }
    }

    /// <summary>The coordinator made another node the primary: this one is rebuilt as its replica.</summary>
    public bool NotPrimary
    {
        get
        {
            lock (_lock)
            {
                return required && _notPrimary;
            }
        }
    }

    /// <summary>Why no restart may go ahead (meaningful when <see cref="IsHeld"/> is false).</summary>
    public string WhyNotHeld
    {
        get
        {
            lock (_lock)
            {
                return time.GetUtcNow() >= _expires && _why.Length == 0 ? "the restart lease ran out (no renewal from the coordinator)" : _why;
            }
        }
    }

    /// <summary>Returns true when this changed whether the lease is held or how a restart must start.</summary>
    public bool Grant(TimeSpan ttl, bool fenceOnStart, bool noStandby = false, bool notPrimary = false)
    {
        bool changed;
        lock (_lock)
        {
            var now = time.GetUtcNow();
            changed = now >= _expires || _fenceOnStart != fenceOnStart || _noStandby != noStandby || _notPrimary != notPrimary;
            _expires = now + ttl;
            _fenceOnStart = fenceOnStart;
            _noStandby = noStandby;
            _notPrimary = notPrimary;
            _why = "";
            // Its running out is news too (a restart held for it goes ahead alone): said when it happens.
            _expiry?.Dispose();
            _expiry = time.CreateTimer(_ => Changed?.Invoke(), null, ttl, Timeout.InfiniteTimeSpan);
        }

        Changed?.Invoke();
        return changed;
    }

    /// <summary>The coordinator ended the lease; returns true when one was held.</summary>
    public bool End(string why) => Withdraw("the coordinator ended the restart lease: " + why);

    /// <summary>The agent gives up its own lease (it fenced its isolated primary); returns true when one was held.</summary>
    public bool Void(string why) => Withdraw(why);

    private bool Withdraw(string why)
    {
        bool held;
        lock (_lock)
        {
            held = time.GetUtcNow() < _expires;
            _expires = DateTimeOffset.MinValue;
            _why = why;
            _expiry?.Dispose();
            _expiry = null;
        }

        Changed?.Invoke();
        return held;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _expiry?.Dispose();
            _expiry = null;
        }
    }
}
