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

/// <summary>The store refused a write because this coordinator no longer leads: another may be deciding already.</summary>
internal sealed class NotLeaderException(string message) : IOException(message);
