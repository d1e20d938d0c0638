using System.Globalization;
using RedisFailover.Protos;

namespace RedisFailover.Services;

/// <summary>
/// What an agent's messages may hold before the coordinator believes them. A value outside these
/// bounds is refused with a reason, never stored, never echoed whole: a negative offset would count
/// as "in sync", a term near 2^63 would overflow the next failover's term, a 4 MB name would be
/// repeated into every log line and trailer.
/// </summary>
internal static class WireLimits
{
    /// <summary>Resource, node, role, verdict, zone, address: identifiers, not documents.</summary>
    public const int MaxIdentifierLength = 256;

    /// <summary>A term no deployment reaches (one failover a millisecond for 285 years), far from overflowing.</summary>
    public const long MaxTerm = 1L << 53;

    /// <summary>An agent watches itself and its peers: a handful of targets.</summary>
    public const int MaxObservations = 64;

    /// <summary>Free text (a probe's detail, a command's error).</summary>
    public const int MaxTextLength = 4096;

    public const int MaxResultBytes = 64 * 1024;

    public static string? RegistrationProblem(Registration registration) =>
        Identifier("resource", registration.Resource, required: true)
        ?? Identifier("node", registration.Node, required: true)
        ?? Identifier("role_name", registration.RoleName)
        ?? Identifier("address", registration.Address)
        ?? Identifier("zone", registration.Zone)
        ?? Term("term_seen", registration.TermSeen);

    public static string? ReportProblem(Report report)
    {
        if (report.ReplicationOffset < 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"replication_offset {report.ReplicationOffset} is negative");
        }

        if (report.PlanUsage is { } usage && (usage.UsedMemoryBytes < 0 || usage.MemoryLimitBytes < 0 || usage.ActiveConnections < 0 || usage.ConnectionLimit < 0 || usage.Plan.Length > 64))
        {
            return "plan_usage has a negative figure or a plan name longer than 64 characters";
        }

        if (report.Observations.Count > MaxObservations)
        {
            return $"{report.Observations.Count} observations, more than {MaxObservations}";
        }

        var problem = Identifier("role_name", report.RoleName)
            ?? Identifier("local_verdict_name", report.LocalVerdictName)
            ?? Identifier("primary_address", report.PrimaryAddress)
            ?? Term("term_seen", report.TermSeen);
        if (problem is not null)
        {
            return problem;
        }

        if (report.Settings is { } settings)
        {
            if (settings.HasTimeoutSeconds && settings.TimeoutSeconds is < 0 or > int.MaxValue)
            {
                return string.Create(CultureInfo.InvariantCulture, $"settings.timeout_seconds {settings.TimeoutSeconds} is out of Redis's range");
            }

            problem = Identifier("settings.maxmemory_policy", settings.HasMaxmemoryPolicy ? settings.MaxmemoryPolicy : "");
        }

        if (report.FailoverRequest is { Reason.Length: > MaxTextLength })
        {
            return $"failover_request.reason is longer than {MaxTextLength} characters";
        }

        problem ??= Stamp("self_fenced_at", report.SelfFencedAt) ?? Stamp("plan_usage sampled_at", report.PlanUsage?.SampledAt);
        // By index: a RepeatedField's enumerator is an object (an iterator), one a report.
        var observations = report.Observations;
        for (var i = 0; i < observations.Count; i++)
        {
            var observation = observations[i];
            problem ??= ObservationProblem(observation)
                ?? Identifier("observation target", observation.Target)
                ?? Identifier("observation verdict_name", observation.VerdictName)
                ?? Identifier("observation host_verdict_name", observation.HostVerdictName)
                ?? (observation.PortName.Length > MaxTextLength ? $"an observation's port_name is longer than {MaxTextLength} characters" : null);
        }

        return problem;
    }

    /// <summary>What is wrong with an observation's timestamps (a report's, or a probe's answer), if anything.</summary>
    public static string? ObservationProblem(Observation observation) =>
        Stamp("observation at", observation.At) ?? Stamp("observation host_silent_since", observation.HostSilentSince);

    /// <summary>A timestamp a clock can give: protobuf's range (years 1 to 9999), nanos under a second; unset is fine.</summary>
    private static string? Stamp(string field, Google.Protobuf.WellKnownTypes.Timestamp? stamp) =>
        stamp is null || (stamp.Seconds is >= -62_135_596_800 and <= 253_402_300_799 && stamp.Nanos is >= 0 and < 1_000_000_000)
            ? null
            : string.Create(CultureInfo.InvariantCulture, $"{field} ({stamp.Seconds} s, {stamp.Nanos} ns) is not a time");

    /// <summary>A value as it may appear in an error or a log line.</summary>
    public static string Printable(string value, int max) => RedisShared.Hosting.Quoted.Printable(value, max);

    private static string? Identifier(string field, string value, bool required = false)
    {
        if (required && value.Length == 0)
        {
            return $"{field} is empty";
        }

        if (value.Length > MaxIdentifierLength)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{field} is {value.Length} characters long, more than {MaxIdentifierLength}");
        }

        // Not value.Any(char.IsControl): that makes an enumerator each time, 13 a report.
        return RedisShared.Hosting.Quoted.HasControl(value) ? $"{field} holds a control character" : null;
    }

    private static string? Term(string field, long term) =>
        term is < 0 or > MaxTerm ? string.Create(CultureInfo.InvariantCulture, $"{field} {term} is outside 0..{MaxTerm}") : null;
}
