namespace RedisFailover.Protos;

/// <summary>
/// What the words of the contract mean, in one place both programs use: which observations prove a
/// host alive (the agent's self-fence asks it of its peers, the coordinator of every vantage before it
/// refutes a suspicion), which are silence, and the names the previous release sent instead of enums.
/// </summary>
public static class Vocabulary
{
    /// <summary>
    /// True when the port probe got something only a live host gives: a reply, a refusal, a reset,
    /// a TLS certificate, or a connection accepted and left hanging. Only a host that is there does any of these.
    /// </summary>
    public static bool ProvesHostAlive(this PortOutcome outcome) => outcome is PortOutcome.Pong or PortOutcome.Busy
        or PortOutcome.OtherReply or PortOutcome.AuthFailed or PortOutcome.TlsRejected or PortOutcome.Refused
        or PortOutcome.Reset or PortOutcome.Hung;

    /// <summary>True when Redis itself answered the port probe (a reply, even a refusal of the agent's credentials): its process is up.</summary>
    public static bool ProvesProcessUp(this PortOutcome outcome) => outcome is PortOutcome.Pong or PortOutcome.Busy
        or PortOutcome.OtherReply or PortOutcome.AuthFailed or PortOutcome.TlsRejected;

    /// <summary>True when the port probe got nothing at all (no reply, no refusal): the host or the network is silent.</summary>
    public static bool IsSilence(this PortOutcome outcome) => outcome is PortOutcome.ConnectTimeout or PortOutcome.Failed;

    /// <summary>True for verdicts that need something on the host to have answered (a reply, a hung connection, a credential refused).</summary>
    public static bool ProvesHostAlive(this Verdict verdict) => verdict is Verdict.Healthy or Verdict.Busy
        or Verdict.Hung or Verdict.Misconfigured;

    /// <summary>True for the verdict that says the host itself is not there (port and SSH silent).</summary>
    public static bool SaysHostGone(this Verdict verdict) => verdict == Verdict.HostUnreachable;

    /// <summary>The role INFO replication says (<c>master</c>, <c>slave</c>); anything else is Unknown.</summary>
    public static NodeRole RoleFromInfo(string? role) => role switch
    {
        "master" => NodeRole.Primary,
        "slave" => NodeRole.Replica,
        _ => NodeRole.Unknown,
    };

    /// <summary>The name the previous release sent for a role (INFO's word).</summary>
    public static string LegacyName(this NodeRole role) => role switch
    {
        NodeRole.Primary => "master",
        NodeRole.Replica => "slave",
        _ => "unknown",
    };

    // A value this release does not know (a newer sender's) reads as if unset: the name, else Unknown,
    // which neither proves a host alive nor says it is gone.

    /// <summary>The enum when the sender set it, else the name an agent of the previous release sent.</summary>
    public static NodeRole Read(NodeRole role, string? legacyName) => role != NodeRole.Unspecified && Enum.IsDefined(role) ? role : RoleFromInfo(legacyName);

    /// <summary>The enum when set, else parsed from the previous release's name (its members are named alike); Unknown when neither says.</summary>
    public static Verdict Read(Verdict verdict, string? legacyName) =>
        verdict != Verdict.Unspecified && Enum.IsDefined(verdict) ? verdict : Parse(legacyName, Verdict.Unknown, Verdict.Unspecified);

    /// <inheritdoc cref="Read(Verdict, string?)"/>
    public static HostVerdict Read(HostVerdict verdict, string? legacyName) =>
        verdict != HostVerdict.Unspecified && Enum.IsDefined(verdict) ? verdict : Parse(legacyName, HostVerdict.Unknown, HostVerdict.Unspecified);

    /// <summary>The enum when set, else parsed from the previous release's name; Unspecified when the agent had not probed the port.</summary>
    public static PortOutcome Read(PortOutcome outcome, string? legacyName) =>
        outcome != PortOutcome.Unspecified && Enum.IsDefined(outcome) ? outcome : Parse(legacyName, PortOutcome.Unspecified, PortOutcome.Unspecified);

    // One member's name only: Enum.TryParse would also take a number or "Healthy,Busy" (a combination).
    private static T Parse<T>(string? name, T fallback, T unspecified) where T : struct, Enum =>
        !string.IsNullOrEmpty(name) && name.All(char.IsAsciiLetter) && Enum.TryParse<T>(name, ignoreCase: true, out var value)
            && Enum.IsDefined(value) && !EqualityComparer<T>.Default.Equals(value, unspecified) ? value : fallback;
}
