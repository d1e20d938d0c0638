namespace RedisFailover.Coordination;

/// <summary>How a resource decides: the confirmation window and its rounds, the quorum, what "in sync" means.</summary>
internal sealed record FailoverPolicy(TimeSpan Window, TimeSpan RoundInterval, int? Quorum, long MaxSyncLagBytes, TimeSpan ResendAfter)
{
    public static FailoverPolicy Default { get; } = new(TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(10), null, 1024 * 1024, TimeSpan.FromSeconds(5));

    /// <summary>The quorum among <paramref name="vantages"/> agents: configured, else all of them (at least one).</summary>
    public int QuorumOf(int vantages) => Quorum ?? Math.Max(1, vantages);

    /// <summary>
    /// How long a restart lease lasts unrenewed: half the window. An agent cut off from the
    /// coordinator loses it well before a confirmation of its host's loss can end.
    /// </summary>
    public TimeSpan LeaseTtl => Window / 2;

    /// <summary>
    /// How long a vantage's SSH probes must have gone unanswered (with its port silent) for its
    /// answer to say the host is gone before its own HostUnreachable verdict settles: half the window,
    /// at most 5 s. So SSH evidence is gathered during the window, and the window is the only wait.
    /// </summary>
    public TimeSpan HostSilence => Window / 2 < TimeSpan.FromSeconds(5) ? Window / 2 : TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a round waits, short of its quorum, for a connected vantage that has not yet seen the
    /// primary since the window opened: its probe under way when the host went silent must time out
    /// and be reported first. An agent's defaults make that at most a probe's interval, its timeout
    /// and a report's interval, a second each. Only a round that could still reach its quorum waits.
    /// </summary>
    public static TimeSpan EvidenceWait { get; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long past the window a confirmation goes on while the port is silent to a quorum but too
    /// few vantages have found the host gone over SSH: another window, and never less than
    /// <see cref="EvidenceWait"/>, so that at a short window a vantage whose first silent probe came
    /// late still has its SSH silence counted.
    /// </summary>
    public TimeSpan HostEvidenceWait => Window > EvidenceWait ? Window : EvidenceWait;

    /// <summary>How often a held lease is renewed: three times per time-to-live, so one lost renewal costs nothing.</summary>
    public TimeSpan LeaseRenewal => LeaseTtl / 3;
}
