using Microsoft.Extensions.Options;
using RedisAgent.Testing;
using RedisFailover.Coordination;
using RedisFailover.Hosting;
using RedisFailover.Protos;
using RedisFailover.Store;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// The coordinator's store on a real directory, damaged and refusing writes the ways a disk does:
/// a journal cut mid-line, a line that is not a record, a record that cannot be written.
/// </summary>
public sealed class StoreFaultTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _directory = new("store-faults");
    private readonly CapturedLogs _logs = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void A_journal_cut_mid_line_by_a_crash_is_repaired_so_the_next_line_is_not_swallowed()
    {
        var store = Open();
        store.Append("cache", Line("first"));
        store.Append("cache", Line("second"));
        var path = _directory.File("cache.journal.jsonl");
        File.AppendAllText(path, "{\"at\":\"2026-11-30T12:00:00+00:00\",\"term\":1,\"incid");

        var reopened = Open();
        reopened.Append("cache", Line("third"));

        Assert.Equal(["first", "second", "third"], reopened.Journal("cache").Select(r => r.Text));
        Assert.Contains(_logs.Entries, e => e.EventId == 2040 && e.Message.Contains(path, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("not json at all")]
    [InlineData("{\"at\":\"2026-11-30T12:00:00+00:00\",\"term\":1}")]
    [InlineData("[1,2,3]")]
    public void An_unreadable_journal_line_is_skipped_with_a_warning_that_names_it(string bad)
    {
        var store = Open();
        store.Append("cache", Line("before"));
        File.AppendAllText(_directory.File("cache.journal.jsonl"), bad + "\n");
        store.Append("cache", Line("after"));

        Assert.Equal(["before", "after"], store.Journal("cache").Select(r => r.Text));
        Assert.Contains(_logs.Entries, e => e.EventId == 2041 && e.Message.Contains("line 2", StringComparison.Ordinal));
    }

    [Fact]
    public void A_store_directory_that_cannot_be_written_is_refused_when_opened()
    {
        // A path under a regular file: no directory can be made there, not even by root.
        File.WriteAllText(_directory.File("a-file"), "");

        var error = Assert.Throws<StoreException>(() => new FileStore(_directory.File("a-file/store")));

        Assert.Contains("cannot be written", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Store_files_are_the_owners_alone_whatever_the_umask()
    {
        var store = Open();
        store.Save("cache", new ResourceRecord(1, "n1", null, null, false));
        store.Append("cache", Line("x"));

        const UnixFileMode others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;
        Assert.Equal((UnixFileMode)0, File.GetUnixFileMode(_directory.File("cache.state.json")) & others);
        Assert.Equal((UnixFileMode)0, File.GetUnixFileMode(_directory.File("cache.journal.jsonl")) & others);
    }

    /// <summary>
    /// A switchover's fence goes out before its promote, under the new term. With the store refusing
    /// the record, neither may leave: the term would be one the disk never heard of, and a restarted
    /// coordinator would issue it again for another node. Once the store takes writes, everything held
    /// goes out in order, the record first.
    /// </summary>
    [Fact]
    public void A_switchover_with_an_unwritable_store_sends_nothing_until_its_term_is_on_disk_then_everything_in_order()
    {
        var store = Open();
        var (coordinator, sessions) = Resource(store);
        // The store's next record cannot be written: its temporary file's name is taken by a directory.
        var blocker = Directory.CreateDirectory(_directory.File("cache.state.json.tmp"));

        var refusal = coordinator.Request((machine, now) => (machine.PromoteRequested("n2", now, out var why), why));

        Assert.Null(refusal);
        Assert.Equal(2, coordinator.Read(m => m.Term));
        Assert.Equal(1, store.Load("cache").Term);
        Assert.All(sessions.Values, s => Assert.False(s.Outbound.Reader.TryRead(out _), $"{s.Node} was sent a command under an unwritten term"));
        Assert.True(coordinator.HeldEffects > 0);
        Assert.True(coordinator.StoreFailures > 0);
        Assert.Contains(_logs.Entries, e => e.EventId == 2030);

        blocker.Delete();
        coordinator.Retry();

        Assert.Equal(0, coordinator.HeldEffects);
        var record = store.Load("cache");
        Assert.Equal(new ResourceRecord(2, "n2", 300, "allkeys-lru", false), record with { InSync = null, Nodes = null, Origins = null, Configured = null });
        // The nodes in force go with it, so that a restart keeps what an operator changed at run time.
        Assert.Equal(["n1", "n2", "n3"], record.Nodes!.Select(n => n.Name));
        // The replicas in sync since n1's promotion go with the record (none since n2's: its replicas have not reported in sync yet).
        Assert.Empty(store.Load("cache").InSync!);
        Assert.Equal([CommandKind.Promote, CommandKind.ApplySettings], Commands(sessions["n2"]).Select(c => c.Kind));
        var old = Commands(sessions["n1"]);
        Assert.Contains(old, c => c.Kind == CommandKind.Fence && c.Term == 2);
        Assert.All(old.Concat(Commands(sessions["n3"])), c => Assert.Equal(2, c.Term));
        Assert.Contains(store.Journal("cache"), r => r.Kind == "promote" && r.Term == 2);
        Assert.Contains(_logs.Entries, e => e.EventId == 2031);
    }

    /// <summary>The URL file cannot be written mid-failover: the promote and the fence still go out, the failure is journalled, and the file is written once it can be.</summary>
    [Fact]
    public void An_unwritable_url_file_never_stops_a_failover_and_is_written_once_it_can_be()
    {
        var store = Open();
        var urlFile = _directory.File("cache.env");
        var (coordinator, sessions) = Resource(store, urlFile);
        var blocker = Directory.CreateDirectory(urlFile + ".tmp");

        var refusal = coordinator.Request((machine, now) => (machine.PromoteRequested("n2", now, out var why), why));

        Assert.Null(refusal);
        var promote = Sent(sessions["n2"]).Single(c => c.ActionCase == Command.ActionOneofCase.Promote);
        Assert.Equal(2, promote.Term);
        // The new primary is published once its agent says the promote is carried out, not before.
        Assert.DoesNotContain(store.Journal("cache"), r => r.Kind == "publish");
        // Another node's agent answering the command sent to n2 is not n2's answer (issue 13: no result about another node).
        coordinator.Answered("n3", new CommandResult { CommandId = promote.CommandId, Ok = true });
        Assert.DoesNotContain(store.Journal("cache"), r => r.Kind == "publish");
        coordinator.Answered("n2", new CommandResult { CommandId = promote.CommandId, Ok = true });
        Assert.Contains(store.Journal("cache"), r => r.Kind == "publish" && r.Text.Contains(urlFile, StringComparison.Ordinal));
        Assert.Contains(_logs.Entries, e => e.EventId == 2022);
        Assert.False(File.Exists(urlFile));

        blocker.Delete();
        coordinator.Retry();
        _publisher!.RetryFiles();

        Assert.Equal("REDIS_URL=redis://127.0.0.12:6379\n", File.ReadAllText(urlFile));
        Assert.Equal(ResourceOptions.DefaultUrlFileMode, File.GetUnixFileMode(urlFile));
        Assert.Contains(_logs.Entries, e => e.EventId == 2023);
    }

    [Fact]
    public void A_journal_that_cannot_be_appended_holds_what_follows_and_loses_no_line()
    {
        var store = Open();
        var (coordinator, _) = Resource(store);
        var journal = _directory.File("cache.journal.jsonl");
        File.Move(journal, journal + ".aside");
        var blocker = Directory.CreateDirectory(journal);

        coordinator.Step((machine, now) => machine.SettingsChanged(new ResourceSettings(60, null), now));
        Assert.True(coordinator.HeldEffects > 0);

        blocker.Delete();
        File.Move(journal + ".aside", journal);
        coordinator.Retry();

        Assert.Equal(0, coordinator.HeldEffects);
        Assert.Contains(store.Journal("cache"), r => r.Kind == "settings" && r.Text.Contains("60", StringComparison.Ordinal));
    }

    [Fact]
    public void A_lost_store_takes_the_highest_term_the_agents_report_and_says_so()
    {
        var machine = new ResourceMachine("cache", [new("n1", "127.0.0.11:6379", "a"), new("n2", "127.0.0.12:6379", "b")],
            new FailoverPolicy(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2), null, 1000, TimeSpan.FromSeconds(5)),
            term: 0, primary: null, new ResourceSettings(null, null), paused: false);

        var effects = machine.Connected("n2", termSeen: 7, T0).ToList();
        effects.AddRange(machine.Reported("n1", new NodeReport(NodeRole.Primary, 10, false, null, false, Verdict.Healthy, false, 7, new ResourceSettings(null, null), []), T0));

        Assert.Equal(7, machine.Term);
        Assert.Equal("n1", machine.Primary);
        Assert.Contains(effects, e => e is PersistTerm { Term: 7 });
        Assert.Contains(effects, e => e is JournalLine { Kind: "recovered" } line && line.Text.Contains("term 7 taken from n2", StringComparison.Ordinal));
        Assert.DoesNotContain(effects, e => e is SendCommand { Term: < 7 });
    }

    private FileStore Open() => new(_directory.Path, new Microsoft.Extensions.Logging.Logger<FileStore>(new Microsoft.Extensions.Logging.LoggerFactory([_logs])));

    private static JournalRecord Line(string text) => new(T0, 1, "", "note", text);

    private PrimaryPublisher? _publisher;

    private (ResourceCoordinator Coordinator, Dictionary<string, AgentSession> Sessions) Resource(FileStore store, string? urlFile = null)
    {
        store.Save("cache", new ResourceRecord(1, "n1", 300, "allkeys-lru", false));
        var machine = new ResourceMachine("cache", [new("n1", "127.0.0.11:6379", "a"), new("n2", "127.0.0.12:6379", "b"), new("n3", "127.0.0.13:6379", "c")],
            new FailoverPolicy(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2), null, 1000, TimeSpan.FromSeconds(5)),
            term: 1, primary: "n1", new ResourceSettings(300, "allkeys-lru"), paused: false);
        var resources = new ResourcesOptions();
        resources.Items.Add(new ResourceOptions { Name = "cache", UrlFile = urlFile });
        var loggers = new Microsoft.Extensions.Logging.LoggerFactory([_logs]);
        var publisher = _publisher = new PrimaryPublisher(Options.Create(resources), new Microsoft.Extensions.Logging.Logger<PrimaryPublisher>(loggers));
        var coordinator = new ResourceCoordinator(machine, store, publisher, TimeProvider.System, loggers.CreateLogger("RedisFailover.Resource"));
        var sessions = new Dictionary<string, AgentSession>();
        foreach (var node in new[] { "n1", "n2", "n3" })
        {
            sessions[node] = coordinator.Attach(node, 1);
        }

        coordinator.Step((m, now) => m.Reported("n1", new NodeReport(NodeRole.Primary, 5000, false, null, false, Verdict.Healthy, false, 1, new ResourceSettings(300, "allkeys-lru"), []), now));
        foreach (var node in new[] { "n2", "n3" })
        {
            coordinator.Step((m, now) => m.Reported(node, new NodeReport(NodeRole.Replica, 5000, true, "127.0.0.11:6379", false, Verdict.Healthy, false, 1, new ResourceSettings(300, "allkeys-lru"), []), now));
        }

        // What the set-up sent (welcomes, leases) is not what the tests look at.
        foreach (var session in sessions.Values)
        {
            while (session.Outbound.Reader.TryRead(out _))
            {
            }
        }

        return (coordinator, sessions);
    }

    /// <summary>The commands sent to <paramref name="session"/> (taken from its queue), as they went out.</summary>
    private static List<Command> Sent(AgentSession session)
    {
        var commands = new List<Command>();
        while (session.Outbound.Reader.TryRead(out var message))
        {
            if (message.Command is { } command)
            {
                commands.Add(command);
            }
        }

        return commands;
    }

    private static List<(CommandKind Kind, long Term)> Commands(AgentSession session)
    {
        var commands = new List<(CommandKind, long)>();
        while (session.Outbound.Reader.TryRead(out var message))
        {
            if (message.Command is { } command && command.ActionCase != Command.ActionOneofCase.ProbeNow && command.ActionCase != Command.ActionOneofCase.RestartLease)
            {
                commands.Add((Kind(command), command.Term));
            }
        }

        return commands;
    }

    private static CommandKind Kind(Command command) => command.ActionCase switch
    {
        Command.ActionOneofCase.Promote => CommandKind.Promote,
        Command.ActionOneofCase.ApplySettings => CommandKind.ApplySettings,
        Command.ActionOneofCase.Fence => CommandKind.Fence,
        Command.ActionOneofCase.Unfence => CommandKind.Unfence,
        Command.ActionOneofCase.ReplicateFrom => CommandKind.ReplicateFrom,
        _ => throw new InvalidOperationException(command.ActionCase.ToString()),
    };
}
