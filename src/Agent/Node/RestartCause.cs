namespace RedisAgent.Node;

/// <summary>What made the supervisor restart the node.</summary>
internal enum RestartTrigger
{
    /// <summary>The exec driver's child exited.</summary>
    Exited,

    /// <summary>Probes saw the port down for the configured number of observations.</summary>
    ProbeFailures,

    /// <summary>The node accepted connections without answering for longer than the hang threshold.</summary>
    Hang,

    /// <summary>After a restart, the node did not answer within the start timeout.</summary>
    StartTimeout,

    /// <summary>The previous restart attempt itself failed (command exited non-zero, binary missing...).</summary>
    RestartFailed,

    /// <summary>The coordinator lifted a refusal or the start limit: no standby can replace the node, or it is no longer the primary and is rebuilt as a replica.</summary>
    Rebuild,
}

/// <summary>The trigger and the evidence, as written in the restart's log line.</summary>
/// <param name="StartArguments">
/// Arguments for this start only, after the configured ones: the start fence (writes refused from the
/// first command) when no coordinator vouches for the node. The exec driver appends them; the command
/// driver passes them in <c>$REDIS_AGENT_START_ARGS</c>, for a command that uses it.
/// </param>
internal sealed record RestartCause(RestartTrigger Trigger, string Detail, IReadOnlyList<string>? StartArguments = null)
{
    public override string ToString() => $"{Trigger}: {Detail}";
}

/// <summary>A restart that was carried out.</summary>
internal sealed record RestartRecord(DateTimeOffset At, RestartCause Cause, int Attempt, TimeSpan Delay);

