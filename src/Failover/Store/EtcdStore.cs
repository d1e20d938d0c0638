using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisFailover.Hosting;
using RedisFailover.Leadership;

namespace RedisFailover.Store;

/// <summary>
/// The coordinator's store in etcd, shared by every coordinator of a deployment. Keys, under the
/// configured prefix: <c>/records/{name}</c> (the record, JSON; all of them in one range) and
/// <c>/resources/{name}/journal/{sequence}</c> (one journal line each, the newest
/// <see cref="EtcdOptions.MaxJournalLines"/> kept). Every write is one transaction conditioned on
/// this coordinator still holding the leader key with the value of its current leadership, and a
/// record's on its revision being the one this leadership last read or wrote: two coordinators can
/// never both write a decision, even one paused across the other's whole term.
/// </summary>
internal sealed class EtcdStore(EtcdConnection etcd, ILeadership leadership, IOptions<FailoverOptions> options, ILogger<EtcdStore> logger) : ICoordinatorStore, IGroupCommitStore, IDisposable, IAsyncDisposable
{
    /// <summary>Operations in one group's transaction: etcd allows 128 (<c>--max-txn-ops</c>), and a few are kept for the leader's condition.</summary>
    internal const int MaxGroupOperations = 120;

    private readonly System.Threading.Channels.Channel<PendingWrites> _queue =
        System.Threading.Channels.Channel.CreateUnbounded<PendingWrites>(new() { SingleReader = true });

    private readonly Lock _writerLock = new();
    private Task? _writer;

    private static readonly StoreJson Json = StoreJson.Default;
    private readonly string _prefix = options.Value.Etcd.Prefix;
    private readonly int _maxJournal = options.Value.Etcd.MaxJournalLines;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, long> _recordRevision = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _nextLine = new(StringComparer.Ordinal);

    public string Describe => etcd.Describe;

    public ResourceRecord Load(string resource)
    {
        var reply = Wait(etcd.RangeAsync(new Etcdserverpb.RangeRequest { Key = Key(RecordKey(resource)) }));
        var kv = reply.Kvs.FirstOrDefault();
        lock (_lock)
        {
            _recordRevision[resource] = kv?.ModRevision ?? 0;
        }

        return kv is null ? ResourceRecord.Empty : Parse(resource, kv.Value.Span);
    }

    public void Save(string resource, ResourceRecord record) => SaveAll([(resource, record)]);

    /// <summary>
    /// The records in one transaction, conditioned on the leader key and on each record's revision:
    /// all are written or none (a fleet's in-sync changes, 40 to a call, rather than one call each).
    /// </summary>
    public void SaveAll(IReadOnlyList<(string Resource, ResourceRecord Record)> records)
    {
        if (records.Count == 0)
        {
            return;
        }

        var txn = Conditioned();
        foreach (var (resource, record) in records)
        {
            var key = Key(RecordKey(resource));
            txn.Compare.Add(new Etcdserverpb.Compare
            {
                Key = key,
                Target = Etcdserverpb.Compare.Types.CompareTarget.Mod,
                Result = Etcdserverpb.Compare.Types.CompareResult.Equal,
                ModRevision = Revision(resource),
            });
            txn.Success.Add(new Etcdserverpb.RequestOp { RequestPut = new Etcdserverpb.PutRequest { Key = key, Value = ByteString.CopyFrom(JsonSerializer.SerializeToUtf8Bytes(record, Json.ResourceRecord)) } });
        }

        var reply = Wait(etcd.TxnAsync(txn));
        if (!reply.Succeeded)
        {
            lock (_lock)
            {
                foreach (var (resource, _) in records)
                {
                    _recordRevision.Remove(resource);
                }
            }

            throw new NotLeaderException(records.Count == 1
                ? $"{etcd.Describe} refused the record of '{records[0].Resource}' (term {records[0].Record.Term}): this coordinator no longer leads, or another wrote the record since"
                : $"{etcd.Describe} refused {records.Count} records ('{records[0].Resource}'...): this coordinator no longer leads, or another wrote one of them since");
        }

        lock (_lock)
        {
            foreach (var (resource, _) in records)
            {
                _recordRevision[resource] = reply.Header.Revision;
            }
        }
    }

    /// <summary>The record's revision as this leadership last read or wrote it; read first when it never did, so a write is conditioned on what is there.</summary>
    private long Revision(string resource) => Wait(RevisionAsync(resource));

    public void Append(string resource, JournalRecord record)
    {
        // Taken under the lock, as the group commit takes its own: no two writes ever get one key (a
        // sequence a refused write took is left unused, a gap the journal's reader does not mind).
        var sequence = Wait(ReserveLineAsync(resource));
        var txn = Conditioned();
        AddLine(txn, resource, sequence, record);
        if (!Wait(etcd.TxnAsync(txn)).Succeeded)
        {
            throw new NotLeaderException($"{etcd.Describe} refused a journal line of '{resource}': this coordinator no longer leads");
        }
    }

    private void AddLine(Etcdserverpb.TxnRequest txn, string resource, long sequence, JournalRecord record)
    {
        txn.Success.Add(new Etcdserverpb.RequestOp { RequestPut = new Etcdserverpb.PutRequest { Key = Key(JournalKey(resource, sequence)), Value = ByteString.CopyFrom(JsonSerializer.SerializeToUtf8Bytes(record, Json.JournalRecord)) } });
        if (sequence > _maxJournal && sequence % 100 == 0)
        {
            // Compacted in the same transaction, a hundred lines at a time: the newest MaxJournalLines stay.
            txn.Success.Add(new Etcdserverpb.RequestOp { RequestDeleteRange = new Etcdserverpb.DeleteRangeRequest { Key = Key(JournalPrefix(resource)), RangeEnd = Key(JournalKey(resource, sequence - _maxJournal)) } });
        }
    }

    /// <summary>
    /// Queued for the group commit: one writer takes as many resources' writes as fit in a transaction
    /// (<see cref="MaxGroupOperations"/>), commits them at once, conditioned on the leader key and on
    /// each record's revision, and answers each. While a transaction is in flight the next group gathers.
    /// </summary>
    public Task WriteAsync(string resource, IReadOnlyList<StoreWrite> writes)
    {
        var pending = new PendingWrites(resource, writes, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_writerLock)
        {
            _writer ??= Task.Run(WriteLoopAsync);
        }

        if (!_queue.Writer.TryWrite(pending))
        {
            pending.Done.TrySetException(new IOException($"{etcd.Describe}: the coordinator is stopping; nothing more is written"));
        }

        return pending.Done.Task;
    }

    private async Task WriteLoopAsync()
    {
        var group = new List<PendingWrites>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            group.Clear();
            names.Clear();
            var operations = 0;
            while (_queue.Reader.TryPeek(out var next)
                   && (group.Count == 0 || (operations + next.Operations <= MaxGroupOperations && !names.Contains(next.Resource))))
            {
                _queue.Reader.TryRead(out _);
                group.Add(next);
                names.Add(next.Resource);
                operations += next.Operations;
            }

            try
            {
                await CommitAsync(group).ConfigureAwait(false);
                foreach (var pending in group)
                {
                    pending.Done.TrySetResult();
                }
            }
            catch (Exception ex)
            {
                var error = ex as IOException ?? new IOException($"{etcd.Describe}: {ex.Message}", ex);
                foreach (var pending in group)
                {
                    pending.Done.TrySetException(error);
                }
            }
        }
    }

    /// <summary>Commits these resources' writes as one group, as the writer does with what it gathered (all or none).</summary>
    internal Task CommitTogetherAsync(params (string Resource, IReadOnlyList<StoreWrite> Writes)[] group) =>
        CommitAsync([.. group.Select(g => new PendingWrites(g.Resource, g.Writes, new TaskCompletionSource()))]);

    private async Task CommitAsync(List<PendingWrites> group)
    {
        var txn = Conditioned();
        foreach (var pending in group)
        {
            // A resource's last record is the one to keep (an earlier one in the same group is older).
            if (pending.Writes.LastOrDefault(w => w.Record is not null).Record is { } record)
            {
                var key = Key(RecordKey(pending.Resource));
                txn.Compare.Add(new Etcdserverpb.Compare
                {
                    Key = key,
                    Target = Etcdserverpb.Compare.Types.CompareTarget.Mod,
                    Result = Etcdserverpb.Compare.Types.CompareResult.Equal,
                    ModRevision = await RevisionAsync(pending.Resource).ConfigureAwait(false),
                });
                txn.Success.Add(new Etcdserverpb.RequestOp { RequestPut = new Etcdserverpb.PutRequest { Key = key, Value = ByteString.CopyFrom(JsonSerializer.SerializeToUtf8Bytes(record, Json.ResourceRecord)) } });
            }

            foreach (var write in pending.Writes)
            {
                if (write.Line is { } line)
                {
                    AddLine(txn, pending.Resource, await ReserveLineAsync(pending.Resource).ConfigureAwait(false), line);
                }
            }
        }

        var reply = await etcd.TxnAsync(txn).ConfigureAwait(false);
        var written = group.Where(p => p.Writes.Any(w => w.Record is not null)).Select(p => p.Resource).ToList();
        lock (_lock)
        {
            foreach (var resource in written)
            {
                if (reply.Succeeded)
                {
                    _recordRevision[resource] = reply.Header.Revision;
                }
                else
                {
                    // Read again before the next write: one of them moved, or the leadership did.
                    _recordRevision.Remove(resource);
                }
            }
        }

        if (!reply.Succeeded)
        {
            throw new NotLeaderException($"{etcd.Describe} refused the writes of {group.Count} resources ('{group[0].Resource}'...): this coordinator no longer leads, or another wrote one of their records since");
        }
    }

    /// <summary>The record's revision as this leadership last read or wrote it (read now when it never did).</summary>
    private async Task<long> RevisionAsync(string resource)
    {
        lock (_lock)
        {
            if (_recordRevision.TryGetValue(resource, out var known))
            {
                return known;
            }
        }

        var reply = await etcd.RangeAsync(new Etcdserverpb.RangeRequest { Key = Key(RecordKey(resource)) }).ConfigureAwait(false);
        var revision = reply.Kvs.FirstOrDefault()?.ModRevision ?? 0;
        lock (_lock)
        {
            _recordRevision[resource] = revision;
        }

        return revision;
    }

    /// <summary>The next journal sequence of <paramref name="resource"/>, taken (read from etcd first when this leadership never wrote one).</summary>
    private async Task<long> ReserveLineAsync(string resource)
    {
        lock (_lock)
        {
            if (_nextLine.TryGetValue(resource, out var next))
            {
                _nextLine[resource] = next + 1;
                return next;
            }
        }

        var last = (await etcd.RangeAsync(new Etcdserverpb.RangeRequest
        {
            Key = Key(JournalPrefix(resource)),
            RangeEnd = Key(JournalEnd(resource)),
            SortOrder = Etcdserverpb.RangeRequest.Types.SortOrder.Descend,
            SortTarget = Etcdserverpb.RangeRequest.Types.SortTarget.Key,
            Limit = 1,
            KeysOnly = true,
        }).ConfigureAwait(false)).Kvs.FirstOrDefault();
        var first = last is null ? 1 : long.Parse(last.Key.ToStringUtf8().AsSpan(last.Key.Length - 20), CultureInfo.InvariantCulture) + 1;
        lock (_lock)
        {
            var sequence = _nextLine.TryGetValue(resource, out var taken) ? taken : first;
            _nextLine[resource] = sequence + 1;
            return sequence;
        }
    }

    /// <summary>The writer takes no more writes; what is queued is still committed.</summary>
    public void Dispose() => _queue.Writer.TryComplete();

    /// <summary>As <see cref="Dispose"/>, and waits (5 s at most) for the writer to commit what was queued.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        Task? writer;
        lock (_writerLock)
        {
            writer = _writer;
        }

        if (writer is not null)
        {
            try
            {
                await writer.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // etcd does not answer: the writes still queued are left, as a killed coordinator's would be.
            }
        }
    }

    private sealed record PendingWrites(string Resource, IReadOnlyList<StoreWrite> Writes, TaskCompletionSource Done)
    {
        /// <summary>Operations in a transaction: a record's condition and put, a line's put and its possible compaction.</summary>
        public int Operations { get; } = (Writes.Any(w => w.Record is not null) ? 2 : 0) + (Writes.Count(w => w.Line is not null) * 2);
    }

    public IReadOnlyList<JournalRecord> Journal(string resource)
    {
        var reply = Wait(etcd.RangeAsync(new Etcdserverpb.RangeRequest
        {
            Key = Key(JournalPrefix(resource)),
            RangeEnd = Key(JournalEnd(resource)),
            SortOrder = Etcdserverpb.RangeRequest.Types.SortOrder.Ascend,
            SortTarget = Etcdserverpb.RangeRequest.Types.SortTarget.Key,
        }));
        var records = new List<JournalRecord>(reply.Kvs.Count);
        foreach (var kv in reply.Kvs)
        {
            try
            {
                if (JsonSerializer.Deserialize(kv.Value.Span, Json.JournalRecord) is { Incident: not null, Kind: not null, Text: not null } record && record.At != default)
                {
                    records.Add(record);
                    continue;
                }
            }
            catch (JsonException)
            {
            }

            logger.LogWarning(2042, "Journal line {Key} in {Store} cannot be read and is skipped", kv.Key.ToStringUtf8(), etcd.Describe);
        }

        return records;
    }

    /// <summary>
    /// A new leadership's take-up of <paramref name="resources"/>, in a few round trips however many
    /// there are: every record in one range, the tail of every journal read side by side, then every
    /// term raised by one, with its <c>leader</c> line (and <c>closed</c> for an incident the old
    /// leader left open), 40 resources to a transaction (etcd allows 128 operations in one), each
    /// conditioned on the leader key and on the record's revision. Taking them up one by one cost a
    /// fleet of 1,666 resources about 10 s, longer than a leader's own deadline.
    /// </summary>
    public Dictionary<string, ResourceRecord> TakeUp(IReadOnlyList<string> resources, DateTimeOffset now, string leader)
    {
        var records = new Dictionary<string, (ResourceRecord Record, long Revision)>(StringComparer.Ordinal);
        var wanted = resources.ToHashSet(StringComparer.Ordinal);
        var start = "/records/";
        while (true)
        {
            var page = Wait(etcd.RangeAsync(new Etcdserverpb.RangeRequest { Key = Key(start), RangeEnd = Key("/records0"), Limit = 1000, SortOrder = Etcdserverpb.RangeRequest.Types.SortOrder.Ascend, SortTarget = Etcdserverpb.RangeRequest.Types.SortTarget.Key }));
            foreach (var kv in page.Kvs)
            {
                var name = kv.Key.ToStringUtf8()[(_prefix.Length + "/records/".Length)..];
                if (wanted.Contains(name))
                {
                    records[name] = (Parse(name, kv.Value.Span), kv.ModRevision);
                }
            }

            if (!page.More || page.Kvs.Count == 0)
            {
                break;
            }

            start = page.Kvs[^1].Key.ToStringUtf8()[_prefix.Length..] + "\0";
        }

        // The last few lines of each journal: where its sequence goes on, and whether an incident is open.
        var tails = new Dictionary<string, (long Next, string? Open)>(StringComparer.Ordinal);
        foreach (var batch in resources.Chunk(50))
        {
            var replies = Wait(Task.WhenAll(batch.Select(name => etcd.RangeAsync(new Etcdserverpb.RangeRequest
            {
                Key = Key(JournalPrefix(name)),
                RangeEnd = Key(JournalEnd(name)),
                SortOrder = Etcdserverpb.RangeRequest.Types.SortOrder.Descend,
                SortTarget = Etcdserverpb.RangeRequest.Types.SortTarget.Key,
                Limit = 20,
            }))));
            for (var i = 0; i < batch.Length; i++)
            {
                var kvs = replies[i].Kvs;
                var next = kvs.Count == 0 ? 1 : long.Parse(kvs[0].Key.ToStringUtf8().AsSpan(kvs[0].Key.Length - 20), CultureInfo.InvariantCulture) + 1;
                string? open = null;
                foreach (var kv in kvs)
                {
                    if (JsonSerializer.Deserialize(kv.Value.Span, Json.JournalRecord) is { Incident.Length: > 0 } line)
                    {
                        open = line.Kind == "closed" ? null : line.Incident;
                        break;
                    }
                }

                tails[batch[i]] = (next, open);
            }
        }

        var taken = new Dictionary<string, ResourceRecord>(StringComparer.Ordinal);
        foreach (var batch in resources.Chunk(40))
        {
            var txn = Conditioned();
            foreach (var name in batch)
            {
                var (record, revision) = records.TryGetValue(name, out var found) ? found : (ResourceRecord.Empty, 0L);
                var raised = record with { Term = record.Term + 1 };
                txn.Compare.Add(new Etcdserverpb.Compare { Key = Key(RecordKey(name)), Target = Etcdserverpb.Compare.Types.CompareTarget.Mod, Result = Etcdserverpb.Compare.Types.CompareResult.Equal, ModRevision = revision });
                txn.Success.Add(new Etcdserverpb.RequestOp { RequestPut = new Etcdserverpb.PutRequest { Key = Key(RecordKey(name)), Value = ByteString.CopyFrom(JsonSerializer.SerializeToUtf8Bytes(raised, Json.ResourceRecord)) } });
                var (next, open) = tails[name];
                var lines = new List<JournalRecord> { new(now, raised.Term, open ?? "", "leader", $"{leader} from term {raised.Term} (was {record.Term}), primary {raised.Primary ?? "none yet"}") };
                if (open is not null)
                {
                    lines.Add(new(now, raised.Term, open, "closed", "abandoned by the coordinator that led it: a confirmation still needed starts again from the agents' reports under the new leader"));
                }

                foreach (var line in lines)
                {
                    txn.Success.Add(new Etcdserverpb.RequestOp { RequestPut = new Etcdserverpb.PutRequest { Key = Key(JournalKey(name, next++)), Value = ByteString.CopyFrom(JsonSerializer.SerializeToUtf8Bytes(line, Json.JournalRecord)) } });
                }

                tails[name] = (next, open);
                taken[name] = raised;
            }

            var reply = Wait(etcd.TxnAsync(txn));
            if (!reply.Succeeded)
            {
                throw new NotLeaderException($"{etcd.Describe} refused the take-up of {batch.Length} resources: this coordinator no longer leads, or another wrote a record since");
            }

            lock (_lock)
            {
                foreach (var name in batch)
                {
                    _recordRevision[name] = reply.Header.Revision;
                    _nextLine[name] = tails[name].Next;
                }
            }
        }

        return taken;
    }

    private ResourceRecord Parse(string resource, ReadOnlySpan<byte> json)
    {
        ResourceRecord? record;
        try
        {
            record = JsonSerializer.Deserialize(json, Json.ResourceRecord);
        }
        catch (JsonException ex)
        {
            throw new StoreException($"the record {RecordKey(resource)} in {etcd.Describe} cannot be read: {ex.Message}", ex);
        }

        return record is { Term: >= 0 } ? record
            : throw new StoreException($"the record {RecordKey(resource)} in {etcd.Describe} cannot be read: {(record is null ? "it holds null" : $"term {record.Term} is negative")}");
    }

    /// <summary>A new leadership starts from what is in etcd: nothing this coordinator knew before is trusted.</summary>
    public void Forget()
    {
        lock (_lock)
        {
            _recordRevision.Clear();
            _nextLine.Clear();
        }
    }

    private Etcdserverpb.TxnRequest Conditioned()
    {
        if (!leadership.Leads || leadership.Condition is not { } condition)
        {
            throw new NotLeaderException($"this coordinator does not lead ({leadership.Describe}): no decision is written");
        }

        var txn = new Etcdserverpb.TxnRequest();
        txn.Compare.Add(condition);
        return txn;
    }

    /// <summary>The coordinator's steps are synchronous (under a resource's lock); each etcd call is bounded by its deadline.</summary>
    private static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();

    private ByteString Key(string suffix) => ByteString.CopyFromUtf8(_prefix + suffix);

    private static string RecordKey(string resource) => $"/records/{resource}";

    private static string JournalPrefix(string resource) => $"/resources/{resource}/journal/";

    // The prefix's range end: the same bytes with the last one incremented ('/' + 1 = '0').
    private static string JournalEnd(string resource) => $"/resources/{resource}/journal0";

    private static string JournalKey(string resource, long sequence) => JournalPrefix(resource) + sequence.ToString("D20", CultureInfo.InvariantCulture);
}
