using System.Globalization;

namespace RedisAgent.Sampling;

/// <summary>What <c>CONFIG GET</c> returned for the settings the agent reads; null fields were not returned.</summary>
internal sealed record RedisConfigValues(long? MaxClients, long? MaxMemory, string? MaxMemoryPolicy, long? Timeout, string? Save, string? AppendFsync = null, string? UnixSocket = null, string? Bind = null, long? MinReplicasToWrite = null, long? Databases = null, string? Dir = null);

/// <summary>What <c>SLOWLOG LEN</c> and <c>SLOWLOG GET 1</c> returned: 0 for an empty slow log, as the exporter has it.</summary>
internal sealed record SlowlogValues(long Length, long LastId, TimeSpan LastDuration);

/// <summary>
/// One sample of a node: every field of <c>INFO ALL</c>, the settings <c>CONFIG GET</c> gave
/// (null when CONFIG is renamed or disabled on this server), the slow log's head (null when
/// SLOWLOG is unavailable) and, on a cluster-mode node, <c>CLUSTER INFO</c>'s fields.
/// </summary>
internal sealed record RedisSample(
    IReadOnlyDictionary<string, string> Info,
    RedisConfigValues? Config,
    DateTimeOffset At,
    TimeSpan Duration,
    SlowlogValues? Slowlog = null,
    IReadOnlyDictionary<string, string>? Cluster = null)
{
    /// <summary>CONFIG's maxclients when it could be read, else INFO's (Redis 7 and later), else null.</summary>
    public long? MaxClients => Config?.MaxClients ?? Long("maxclients");

    /// <summary>CONFIG's maxmemory, else INFO's (0 means no limit).</summary>
    public long? MaxMemory => Config?.MaxMemory ?? Long("maxmemory");

    public string? MaxMemoryPolicy => Config?.MaxMemoryPolicy ?? Info.GetValueOrDefault("maxmemory_policy");

    public long? Long(string key) =>
        Info.TryGetValue(key, out var text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    public double? Double(string key) =>
        Info.TryGetValue(key, out var text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value)
            ? value
            : null;
}

/// <summary>
/// The sampler's results, for the metrics, the metrics log line and readiness: the last good
/// sample, and how sampling has gone. Written by one loop, read by scrapes: a reference swap.
/// </summary>
internal sealed class SampleBook
{
    private volatile State _state = new(null, null, null, 0, 0, ConfigAvailable: true);

    public RedisSample? Last => _state.Last;

    /// <summary>Whether the last attempt succeeded (false before the first).</summary>
    public bool LastSucceeded => _state.LastAttempt is not null && _state.LastError is null;

    public string? LastError => _state.LastError;

    public long Samples => _state.Samples;

    public long Failures => _state.Failures;

    /// <summary>False once CONFIG turned out to be renamed or disabled: the limits then come from INFO and the plan.</summary>
    public bool ConfigAvailable => _state.ConfigAvailable;

    public void Succeeded(RedisSample sample) =>
        _state = _state with { Last = sample, LastAttempt = sample.At + sample.Duration, LastError = null, Samples = _state.Samples + 1, ConfigAvailable = sample.Config is not null };

    public void Failed(DateTimeOffset at, string error) =>
        _state = _state with { LastAttempt = at, LastError = error, Failures = _state.Failures + 1 };

    private sealed record State(RedisSample? Last, DateTimeOffset? LastAttempt, string? LastError, long Samples, long Failures, bool ConfigAvailable);
}
