namespace RedisAgent.Supervision;

/// <summary>How the agent brings a dead Redis back. Section <c>Restart</c>.</summary>
internal sealed class RestartOptions
{
    public const string Section = "Restart";

    /// <summary>Which driver restarts the process: <c>exec</c>, <c>command</c>, <c>systemd</c> or <c>none</c> (observe only).</summary>
    public RestartDriverKind Driver { get; set; } = RestartDriverKind.Exec;

    /// <summary>For the <c>command</c> driver: the command line, run with <c>/bin/sh -c</c>.</summary>
    public string? Command { get; set; }

    /// <summary>For the <c>ssh</c> driver: the command run on the node's host over SSH (the <c>Ssh</c> section says how to get there).</summary>
    public string SshCommand { get; set; } = "systemctl restart redis-server";

    /// <summary>For the <c>systemd</c> driver: the unit to <c>systemctl restart</c>.</summary>
    public string SystemdUnit { get; set; } = "redis-server";

    /// <summary>How long a restart command may run before it counts as a failed restart.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>After a restart, how long the node may stay unanswering before the start counts as failed.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Delay before the second consecutive restart; it doubles (with jitter) for each further one. The first restart is immediate.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest delay between two restarts.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Healthy for this long after a restart and the backoff starts again from zero.</summary>
    public TimeSpan StablePeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>At most this many restarts within <see cref="StartLimitInterval"/>; past it the agent stops and asks for a failover.</summary>
    public int StartLimitBurst { get; set; } = 5;

    /// <summary>The window of <see cref="StartLimitBurst"/>.</summary>
    public TimeSpan StartLimitInterval { get; set; } = TimeSpan.FromSeconds(60);
}

internal enum RestartDriverKind
{
    /// <summary>The agent runs <c>redis-server</c> as its own child and sees its exit at once.</summary>
    Exec,

    /// <summary>A configured command line restarts Redis (a container restart, a script...).</summary>
    Command,

    /// <summary><c>systemctl restart</c> of a unit: a preset of <see cref="Command"/>.</summary>
    Systemd,

    /// <summary>Runs <see cref="RestartOptions.SshCommand"/> on the node's host over SSH, for an agent off that host.</summary>
    Ssh,

    /// <summary>Observe and report only; never restart.</summary>
    None,
}
