using RedisFailover.Protos;
using RedisAgent.Node;

namespace RedisAgent.Sampling;

/// <summary>Parses the text of <c>INFO</c> (<c>key:value</c> lines under <c># Section</c> headers).</summary>
internal static class InfoParser
{
    public static IReadOnlyDictionary<string, string> Parse(string info)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var rawLine in info.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                fields[line[..colon]] = line[(colon + 1)..];
            }
        }

        return fields;
    }

    /// <summary>
    /// Splits a composite INFO value such as <c>keys=1,expires=0,avg_ttl=0</c> (keyspace,
    /// commandstats, replicas). Parts without <c>=</c> are kept under their position
    /// (<c>"0"</c>, <c>"1"</c>...), which is how Redis 2.x listed replicas: <c>127.0.0.1,6380,online</c>.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ParseFields(string value)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        var parts = value.Split(',');
        for (var i = 0; i < parts.Length; i++)
        {
            var equals = parts[i].IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                fields[parts[i][..equals]] = parts[i][(equals + 1)..];
            }
            else
            {
                fields[i.ToString(System.Globalization.CultureInfo.InvariantCulture)] = parts[i];
            }
        }

        return fields;
    }

    /// <summary>The facts the supervisor needs; <paramref name="saveConfig"/> is null when CONFIG could not be read.</summary>
    public static NodeFacts ToFacts(IReadOnlyDictionary<string, string> info, string? saveConfig, DateTimeOffset at, string? appendFsync = null, long? minReplicasToWrite = null) => new(
        Role: Vocabulary.RoleFromInfo(info.GetValueOrDefault("role")),
        ConnectedReplicas: Int(info, "connected_slaves"),
        AofEnabled: Int(info, "aof_enabled") == 1,
        SaveConfig: saveConfig,
        ProcessId: Int(info, "process_id"),
        SampledAt: at,
        AppendFsync: appendFsync,
        PrimaryAddress: Vocabulary.RoleFromInfo(info.GetValueOrDefault("role")) == NodeRole.Replica && info.GetValueOrDefault("master_host") is { Length: > 0 } host
            ? $"{host}:{info.GetValueOrDefault("master_port")}"
            : null,
        MinReplicasToWrite: minReplicasToWrite);

    /// <summary>The replication facts of an INFO (or INFO replication) reply.</summary>
    public static ReplicationFacts ToReplication(IReadOnlyDictionary<string, string> info)
    {
        var role = Vocabulary.RoleFromInfo(info.GetValueOrDefault("role"));
        var replica = role == NodeRole.Replica;
        return new ReplicationFacts(
            role,
            long.TryParse(info.GetValueOrDefault(replica ? "slave_repl_offset" : "master_repl_offset"), System.Globalization.CultureInfo.InvariantCulture, out var offset) ? offset : 0,
            LinkUp: info.GetValueOrDefault("master_link_status") == "up",
            PrimaryAddress: replica ? $"{info.GetValueOrDefault("master_host")}:{info.GetValueOrDefault("master_port")}" : "",
            SyncInProgress: info.GetValueOrDefault("master_sync_in_progress") == "1");
    }

    private static int Int(IReadOnlyDictionary<string, string> info, string key) =>
        info.TryGetValue(key, out var text) && int.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : 0;
}
