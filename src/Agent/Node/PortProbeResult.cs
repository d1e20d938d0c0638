namespace RedisAgent.Node;

/// <summary>What one port probe (TCP connect, optional AUTH, PING) saw.</summary>
internal enum PortProbeOutcome
{
    /// <summary><c>+PONG</c>: the server is up and serving.</summary>
    Pong,

    /// <summary><c>-LOADING</c>, <c>-BUSY</c> or <c>-MASTERDOWN</c>: alive but busy; never a reason to restart.</summary>
    Busy,

    /// <summary>Any other reply: the process is alive and speaking RESP.</summary>
    OtherReply,

    /// <summary><c>-NOAUTH</c>, <c>-WRONGPASS</c>, <c>-DENIED</c>...: the agent is misconfigured, the server is fine.</summary>
    AuthFailed,

    /// <summary>The TLS handshake failed on trust (certificate not trusted, pin mismatch): the agent is misconfigured, the server is fine.</summary>
    TlsRejected,

    /// <summary>Connection refused: nothing listens on the port.</summary>
    Refused,

    /// <summary>The connection was reset or closed before a reply.</summary>
    Reset,

    /// <summary>The TCP connect did not complete within the timeout: the host or the network is silent.</summary>
    ConnectTimeout,

    /// <summary>Connected, but no reply within the timeout: the process is stuck (stopped, deadlocked, blocked).</summary>
    Hung,

    /// <summary>A network-level failure other than the above (unreachable, TLS handshake failed...).</summary>
    Failed,
}

/// <summary>One observation of a node's Redis port.</summary>
/// <param name="Outcome">The classified result.</param>
/// <param name="At">When the probe started.</param>
/// <param name="Latency">From the start of the connect to the reply (or to the failure).</param>
/// <param name="Detail">The server's reply or the error, for logs; never holds a secret.</param>
internal sealed record PortProbeResult(PortProbeOutcome Outcome, DateTimeOffset At, TimeSpan Latency, string? Detail = null)
{
    /// <summary>True when a process answered in RESP, whatever it said.</summary>
    public bool ProcessAnswered => Outcome is PortProbeOutcome.Pong or PortProbeOutcome.Busy
        or PortProbeOutcome.OtherReply or PortProbeOutcome.AuthFailed or PortProbeOutcome.TlsRejected;
}
