using Google.Protobuf;
using Microsoft.Extensions.Options;
using RedisAgent.Testing;
using RedisFailover.Coordination;
using RedisFailover.Hosting;
using RedisFailover.Leadership;
using RedisFailover.Store;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// Records whose in-sync set changed are written together: a fleet coming up changes every
/// resource's at once, and one etcd transaction each held the coordinator's clock for seconds.
/// Against a real etcd member: 40 records are one transaction (etcd's revision moves by one), all or
/// none; the machine asks for that write by the clock, never on the report path.
/// </summary>
public sealed class RecordBatchTests : IAsyncLifetime
{
    private const string Prefix = "/batch-test";
    private EtcdCluster _etcd = null!;
    private EtcdConnection _connection = null!;
    private readonly CapturedLogs _logs = new();

    public async Task InitializeAsync()
    {
        _etcd = await EtcdCluster.StartClusterAsync(1);
        _connection = new EtcdConnection(new EtcdOptions { Endpoints = _etcd.Endpoints, Prefix = Prefix, RequestTimeout = TimeSpan.FromSeconds(5) });
        // The leader key this store's writes are conditioned on, as a leadership would have written it.
        await _connection.TxnAsync(Put(Prefix + "/leader", "test/1 https://127.0.0.1:1"));
    }

    public async Task DisposeAsync()
    {
        _connection.Dispose();
        await _etcd.DisposeAsync();
    }

    [Fact]
    public async Task Forty_records_are_one_etcd_transaction_all_written_or_none()
    {
        var store = Store();
        var names = Enumerable.Range(0, Coordinator.RecordBatch).Select(i => $"r{i:D2}").ToArray();
        store.SaveAll([.. names.Select(n => (n, Record(1, n)))]);

        var before = await RevisionAsync();
        store.SaveAll([.. names.Select(n => (n, Record(2, n)))]);
        Assert.Equal(before + 1, await RevisionAsync());
        Assert.All(names, n => Assert.Equal(2, store.Load(n).Term));

        // Another writer moves one record: the next batch is refused whole, and says so.
        await _connection.TxnAsync(Put(Prefix + "/records/r07", System.Text.Json.JsonSerializer.Serialize(new { term = 9, primary = "elsewhere", paused = false })));
        var refused = Assert.Throws<NotLeaderException>(() => store.SaveAll([.. names.Select(n => (n, Record(3, n)))]));
        Assert.Contains("refused 40 records", refused.Message, StringComparison.Ordinal);
        Assert.All(names.Where(n => n != "r07"), n => Assert.Equal(2, store.Load(n).Term));
        Assert.Equal(9, store.Load("r07").Term);

        // Read again, each is written on its own (what the coordinator does with a refused batch).
        foreach (var name in names)
        {
            store.Save(name, Record(3, name));
        }

        Assert.All(names, n => Assert.Equal(3, store.Load(n).Term));
    }

    [Fact]
    public async Task Many_resources_writes_handed_over_at_once_are_committed_in_a_few_transactions_each_in_order()
    {
        var store = Store();
        var names = Enumerable.Range(0, 60).Select(i => $"g{i:D2}").ToArray();
        var at = new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
        var before = await RevisionAsync();

        // What 60 resources' first reports ask at once: the record (term 1, the primary) and two journal lines each.
        await Task.WhenAll(names.Select(name => store.WriteAsync(name,
        [
            new StoreWrite(Record(1, name + "n0"), null),
            new StoreWrite(null, new JournalRecord(at, 1, "", "primary", $"{name}n0 is the primary")),
            new StoreWrite(null, new JournalRecord(at.AddMilliseconds(1), 1, "", "publish", $"{name} published")),
        ])));

        var transactions = await RevisionAsync() - before;
        Assert.True(transactions <= 12, $"60 resources' writes took {transactions} transactions");
        foreach (var name in names)
        {
            Assert.Equal(name + "n0", store.Load(name).Primary);
            Assert.Equal(["primary", "publish"], store.Journal(name).Select(r => r.Kind));
        }

        // Written on: the sequence goes on after what the group wrote, in one store or another.
        store.Append("g00", new JournalRecord(at.AddSeconds(1), 1, "", "note", "after"));
        Assert.Equal(["primary", "publish", "note"], Store().Journal("g00").Select(r => r.Kind));
    }

    [Fact]
    public async Task A_group_with_one_moved_record_writes_nothing_and_every_resource_in_it_is_told()
    {
        var store = Store();
        var at = new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
        store.SaveAll([("m0", Record(1, "a")), ("m1", Record(1, "b"))]);
        // m1's record moved behind this leadership's back.
        await _connection.TxnAsync(Put(Prefix + "/records/m1", System.Text.Json.JsonSerializer.Serialize(new { term = 5, primary = "x", paused = false })));

        IReadOnlyList<StoreWrite> Promote(string name) => [new StoreWrite(Record(2, name), null), new StoreWrite(null, new JournalRecord(at, 2, "", "promote", name))];
        await Assert.ThrowsAsync<NotLeaderException>(() => store.CommitTogetherAsync(("m0", Promote("m0")), ("m1", Promote("m1"))));

        Assert.Equal(1, store.Load("m0").Term);
        Assert.Empty(store.Journal("m0"));

        // Read again, the next group is written.
        await store.WriteAsync("m0", [new StoreWrite(Record(2, "m0"), null)]);
        Assert.Equal(2, store.Load("m0").Term);
    }

    [Fact]
    public void A_store_without_transactions_writes_a_batch_one_record_after_the_other()
    {
        using var directory = new TempDirectory("batch-file");
        ICoordinatorStore store = new FileStore(directory.Path);
        store.SaveAll([("a", Record(4, "a")), ("b", Record(5, "b"))]);
        Assert.Equal(4, store.Load("a").Term);
        Assert.Equal(5, store.Load("b").Term);
    }

    [Fact]
    public void A_replica_first_in_sync_is_written_by_the_clock_as_a_batchable_record_not_a_term()
    {
        var t0 = new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
        var machine = new ResourceMachine("cache", [new("n1", "127.0.0.11:6379", "a"), new("n2", "127.0.0.12:6379", "b")],
            new FailoverPolicy(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2), null, 1000, TimeSpan.FromSeconds(5)),
            term: 1, primary: "n1", new ResourceSettings(null, null), paused: false);
        machine.Reported("n1", new NodeReport(RedisFailover.Protos.NodeRole.Primary, 100, false, null, false, RedisFailover.Protos.Verdict.Healthy, false, 1, new ResourceSettings(null, null), []), t0);

        var reported = machine.Reported("n2", new NodeReport(RedisFailover.Protos.NodeRole.Replica, 100, true, "127.0.0.11:6379", false, RedisFailover.Protos.Verdict.Healthy, false, 1, new ResourceSettings(null, null), []), t0);
        Assert.DoesNotContain(reported, e => e is PersistTerm or PersistInSync);

        var tick = machine.Tick(t0.AddMilliseconds(100));
        Assert.Single(tick.OfType<PersistInSync>());
        Assert.DoesNotContain(tick, e => e is PersistTerm);
        Assert.Contains("n2", machine.InSyncNodes);
        Assert.Empty(machine.Tick(t0.AddMilliseconds(200)).OfType<PersistInSync>());
    }

    private EtcdStore Store() => new(_connection, new FixedLeadership(), Options.Create(new FailoverOptions { Etcd = new EtcdOptions { Endpoints = _etcd.Endpoints, Prefix = Prefix } }),
        new Microsoft.Extensions.Logging.Logger<EtcdStore>(new Microsoft.Extensions.Logging.LoggerFactory([_logs])));

    private static ResourceRecord Record(long term, string primary) => new(term, primary, 300, "allkeys-lru", false);

    private async Task<long> RevisionAsync() =>
        (await _connection.RangeAsync(new Etcdserverpb.RangeRequest { Key = ByteString.CopyFromUtf8(Prefix + "/leader") })).Header.Revision;

    private static Etcdserverpb.TxnRequest Put(string key, string value)
    {
        var txn = new Etcdserverpb.TxnRequest();
        txn.Success.Add(new Etcdserverpb.RequestOp { RequestPut = new Etcdserverpb.PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value) } });
        return txn;
    }

    /// <summary>Leads, by the leader key InitializeAsync wrote.</summary>
    private sealed class FixedLeadership : ILeadership
    {
        public bool Leads => true;

        public string? LeaderUrl => null;

        public string Describe => "leading (test)";

        public Etcdserverpb.Compare? Condition => new()
        {
            Key = ByteString.CopyFromUtf8(Prefix + "/leader"),
            Target = Etcdserverpb.Compare.Types.CompareTarget.Value,
            Result = Etcdserverpb.Compare.Types.CompareResult.Equal,
            Value = ByteString.CopyFromUtf8("test/1 https://127.0.0.1:1"),
        };
    }
}
