namespace RedisFailover.Store;

/// <summary>
/// Where the coordinator keeps what must outlive it: each resource's record (term, primary,
/// settings, pause) and its decision journal. <see cref="FileStore"/> on local disk (one
/// coordinator, the default) or <see cref="EtcdStore"/> (several coordinators, one leading).
/// A write that the store did not take throws an <see cref="IOException"/>: the coordinator then
/// holds that effect and every one after it, and no command of an unwritten term leaves.
/// </summary>
internal interface ICoordinatorStore
{
    /// <summary>Where the store is, for log lines (a directory, or etcd's endpoints and key prefix).</summary>
    string Describe { get; }

    /// <summary>The resource's record; <see cref="ResourceRecord.Empty"/> when there is none. Throws <see cref="StoreException"/> for a record that cannot be read.</summary>
    ResourceRecord Load(string resource);

    void Save(string resource, ResourceRecord record);

    /// <summary>
    /// Several resources' records at once, all or none where the store can (etcd: one transaction);
    /// this store's default writes them one after the other. Throws like <see cref="Save"/>.
    /// </summary>
    void SaveAll(IReadOnlyList<(string Resource, ResourceRecord Record)> records)
    {
        foreach (var (resource, record) in records)
        {
            Save(resource, record);
        }
    }

    void Append(string resource, JournalRecord record);

    /// <summary>The journal, oldest first.</summary>
    IReadOnlyList<JournalRecord> Journal(string resource);
}

/// <summary>One write of a resource's: its record, or a line of its journal.</summary>
internal readonly record struct StoreWrite(ResourceRecord? Record, JournalRecord? Line);

/// <summary>
/// A store that commits the writes of many resources together (etcd: one transaction for what
/// dozens of resources wrote in the same moments), rather than one round trip each under each
/// resource's lock. A resource hands it its writes in order and waits, holding whatever must not
/// happen before they are durable.
/// </summary>
internal interface IGroupCommitStore
{
    /// <summary>
    /// Completes once <paramref name="writes"/> are durable, in order; faults with an
    /// <see cref="IOException"/> (<see cref="NotLeaderException"/> when this coordinator no longer
    /// leads) when none of them was written. A resource has one such call at a time.
    /// </summary>
    Task WriteAsync(string resource, IReadOnlyList<StoreWrite> writes);
}

/// <summary>The store refused a write because this coordinator no longer leads: another may be deciding already.</summary>
internal sealed class NotLeaderException(string message) : IOException(message);
