using System.Globalization;
using StackExchange.Redis;

namespace RedisAgent.Connection;

/// <summary>What the coordinator can make the agent do to its node, over the agent's one connection.</summary>
internal sealed class NodeControl(RedisConnection connection, RedisEndpoint endpoint)
{
    /// <summary>How long a fence lasts if nobody lifts it: for all practical purposes, until the coordinator says so.</summary>
    private const string FenceMilliseconds = "315360000000";

    /// <summary>
    /// The start arguments that make a Redis refuse every write from its first command (NOREPLICAS:
    /// no count of replicas can meet it), reads served: a restart no coordinator has vouched for.
    /// </summary>
    public static readonly IReadOnlyList<string> FencedStartArguments = ["--min-replicas-to-write", StartFenceReplicas];

    private const string StartFenceReplicas = "2147483647";

    private volatile bool _fenced;

    // Set while the node runs with FencedStartArguments: the min-replicas-to-write to put back when the fence is lifted.
    private long? _startFencedFrom;

    public bool Fenced => _fenced;

    /// <summary>
    /// The node was just started with <see cref="FencedStartArguments"/>: it is fenced until lifted,
    /// which puts back <paramref name="minReplicasToWrite"/>, its own setting before the restart.
    /// </summary>
    public void StartedFenced(long minReplicasToWrite)
    {
        _startFencedFrom = minReplicasToWrite;
        _fenced = true;
    }

    /// <summary>True when <paramref name="minReplicasToWrite"/> is the start fence's, not an operator's setting.</summary>
    public static bool IsStartFence(long? minReplicasToWrite) =>
        minReplicasToWrite?.ToString(CultureInfo.InvariantCulture) == StartFenceReplicas;

    /// <summary>When the agent fenced its node on its own (cut off from everyone), until the fence is lifted; null otherwise.</summary>
    public DateTimeOffset? SelfFencedAt { get; private set; }

    /// <summary>
    /// The agent's own fence: over its connection and, at the same time, over <paramref name="local"/>
    /// (a path no partition cuts); done when either takes. Throws when neither does.
    /// </summary>
    public async Task<string> SelfFenceAsync(LocalRoute? local, DateTimeOffset at)
    {
        var pending = new List<(string Route, Task Task)> { ("its connection", FenceAsync()) };
        if (local is not null)
        {
            pending.Add((local.ToString(), local.CommandAsync(endpoint, ["CLIENT", "PAUSE", FenceMilliseconds, "WRITE"], TimeSpan.FromSeconds(2))));
        }

        var errors = new List<string>();
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending.Select(p => p.Task)).ConfigureAwait(false);
            var attempt = pending.Single(p => p.Task == done);
            pending.Remove(attempt);
            if (done.IsCompletedSuccessfully)
            {
                _fenced = true;
                SelfFencedAt = at;
                foreach (var rest in pending)
                {
                    // Observed, so a late failure is not an unobserved exception.
                    _ = rest.Task.ContinueWith(t => t.Exception, TaskScheduler.Default);
                }

                return attempt.Route;
            }

            errors.Add($"{attempt.Route}: {done.Exception?.InnerException?.Message}");
        }

        throw new TimeoutException("no route fenced the node: " + string.Join("; ", errors));
    }

    public async Task PromoteAsync()
    {
        await ExecuteAsync("REPLICAOF", "NO", "ONE").ConfigureAwait(false);
        await UnfenceAsync().ConfigureAwait(false);
    }

    public async Task ReplicateFromAsync(string address)
    {
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            throw new ArgumentException($"'{address}' is not host:port.", nameof(address));
        }

        if (endpoint.Password is { } password)
        {
            // The resource's nodes share its credentials: a replica logs in to its new primary with
            // the ones this agent uses for its own node (no human sets masterauth after a failover).
            if (endpoint.User is { } user)
            {
                await ExecuteAsync("CONFIG", "SET", "masteruser", user).ConfigureAwait(false);
            }

            await ExecuteAsync("CONFIG", "SET", "masterauth", password).ConfigureAwait(false);
        }

        await ExecuteAsync("REPLICAOF", address[..colon], port.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
        // A replica refuses writes by itself (READONLY): the fence has done its work.
        await UnfenceAsync().ConfigureAwait(false);
    }

    public async Task ApplySettingsAsync(long? timeoutSeconds, string? maxMemoryPolicy)
    {
        if (timeoutSeconds is { } timeout)
        {
            await ExecuteAsync("CONFIG", "SET", "timeout", timeout.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
        }

        if (maxMemoryPolicy is { Length: > 0 } policy)
        {
            await ExecuteAsync("CONFIG", "SET", "maxmemory-policy", policy).ConfigureAwait(false);
        }
    }

    /// <summary>Refuses writes (<c>CLIENT PAUSE ... WRITE</c>, Redis 6.2+) while reads go on.</summary>
    public async Task FenceAsync()
    {
        await ExecuteAsync("CLIENT", "PAUSE", FenceMilliseconds, "WRITE").ConfigureAwait(false);
        _fenced = true;
    }

    /// <summary>A fence for a planned switchover: writes paused, then the offset every write acknowledged before the pause is at or below.</summary>
    public async Task<long> FenceForSwitchoverAsync()
    {
        await FenceAsync().ConfigureAwait(false);
        return Offset(await ReplicationAsync().ConfigureAwait(false), "master_repl_offset")
            ?? throw new InvalidOperationException("INFO replication has no master_repl_offset");
    }

    /// <summary>
    /// Waits until this replica has received the paused primary's stream up to <paramref name="offset"/>
    /// (link up, <c>slave_repl_offset</c> at or past it), asking every 5 ms; the offset reached. Throws
    /// <see cref="TimeoutException"/> naming how far it got when <paramref name="timeout"/> runs out.
    /// </summary>
    /// <param name="cancellationToken">The coordinator's stream ended: nobody waits for the answer any more.</param>
    public async Task<long> CatchUpAsync(long offset, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long? reached = null;
        string? link = null;
        while (true)
        {
            try
            {
                var info = await ReplicationAsync().WaitAsync(TimeSpan.FromMilliseconds(500)).ConfigureAwait(false);
                reached = Offset(info, "slave_repl_offset");
                link = Field(info, "master_link_status");
                if (link == "up" && reached >= offset)
                {
                    return reached.Value;
                }
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                link = "unknown (" + ex.Message + ")";
            }

            if (clock.Elapsed >= timeout)
            {
                throw new TimeoutException(string.Create(CultureInfo.InvariantCulture,
                    $"not caught up within {timeout.TotalMilliseconds:0} ms: offset {reached?.ToString(CultureInfo.InvariantCulture) ?? "unknown"} of {offset}, link {link ?? "unknown"}"));
            }

            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<string> ReplicationAsync()
    {
        var server = await connection.ServerAsync().ConfigureAwait(false);
        return await server.InfoRawAsync("replication").ConfigureAwait(false) ?? "";
    }

    private static string? Field(string info, string key)
    {
        foreach (var line in info.Split('\n'))
        {
            if (line.StartsWith(key + ":", StringComparison.Ordinal))
            {
                return line[(key.Length + 1)..].Trim();
            }
        }

        return null;
    }

    private static long? Offset(string info, string key) =>
        long.TryParse(Field(info, key), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    public async Task UnfenceAsync()
    {
        if (_startFencedFrom is { } setting)
        {
            await ExecuteAsync("CONFIG", "SET", "min-replicas-to-write", setting.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
            _startFencedFrom = null;
        }

        await ExecuteAsync("CLIENT", "UNPAUSE").ConfigureAwait(false);
        _fenced = false;
        SelfFencedAt = null;
    }

    private async Task ExecuteAsync(string command, params object[] arguments)
    {
        var server = await connection.ServerAsync().ConfigureAwait(false);
        await server.ExecuteAsync(command, arguments).ConfigureAwait(false);
    }
}
