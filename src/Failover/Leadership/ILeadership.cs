namespace RedisFailover.Leadership;

/// <summary>
/// Whether this coordinator decides. With the file store it always does (it is the only one); with
/// etcd, only while it holds the leader key, and never past its own deadline for renewing it.
/// </summary>
internal interface ILeadership
{
    /// <summary>True while this coordinator leads: it may write decisions and send commands.</summary>
    bool Leads { get; }

    /// <summary>The leading coordinator's advertised URL when another leads and it is known; null otherwise.</summary>
    string? LeaderUrl { get; }

    /// <summary>What leadership is now, in a phrase, for status and errors.</summary>
    string Describe { get; }

    /// <summary>
    /// Checks, inside the store's transaction, that this coordinator still leads: the leader key and
    /// the value this leadership wrote. Null with the file store.
    /// </summary>
    Etcdserverpb.Compare? Condition { get; }
}

/// <summary>The file store's: one coordinator, always leading.</summary>
internal sealed class SoleLeadership : ILeadership
{
    public bool Leads => true;

    public string? LeaderUrl => null;

    public string Describe => "the only coordinator (file store)";

    public Etcdserverpb.Compare? Condition => null;
}

/// <summary>Runs the etcd campaign when leadership is etcd's; nothing with the file store.</summary>
internal sealed class Campaign(ILeadership leadership) : Microsoft.Extensions.Hosting.IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        leadership is Microsoft.Extensions.Hosting.IHostedService service ? service.StartAsync(cancellationToken) : Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) =>
        leadership is Microsoft.Extensions.Hosting.IHostedService service ? service.StopAsync(cancellationToken) : Task.CompletedTask;
}
