namespace RedisAgent.Supervision;

/// <summary>
/// The coordinator's permission to restart the local Redis. An agent that works alone (no
/// <c>Coordinator:Url</c>) needs none. An agent under a coordinator restarts only while it holds
/// one: granted for a time-to-live and renewed while the link lasts, ended by the coordinator while
/// the node's host is under confirmation, and voided by the agent itself when it fences its
/// isolated primary. So a primary the coordinator may be replacing is never restarted into a
/// second writable primary: the lease runs out (half a confirmation window) before any promotion.
/// </summary>
internal sealed class RestartLease(TimeProvider time, bool required)
{
    private readonly Lock _lock = new();
    private DateTimeOffset _expires = DateTimeOffset.MinValue;
    private bool _fenceOnStart;
    private bool _noStandby;
    private bool _notPrimary;
    private string _why = "no lease granted yet by the coordinator";

    /// <summary>Raised after every grant, end or void (the supervisor re-examines a held restart).</summary>
    public event Action? Changed;

    /// <summary>False for an agent without a coordinator: it restarts on its own judgement.</summary>
    public bool Required => required;

    /// <summary>True when a restart may go ahead now.</summary>
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
                return time.GetUtcNow() < _expires;
            }
        }
    }

    /// <summary>The node must be fenced (writes refused) as soon as it answers after a restart: it is not the resource's primary.</summary>
    public bool FenceOnStart
    {
        get
        {
            lock (_lock)
            {
                return required && _fenceOnStart;
            }
        }
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
        }

        Changed?.Invoke();
        return held;
    }
}
