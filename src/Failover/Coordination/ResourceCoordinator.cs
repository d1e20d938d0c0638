using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;
using RedisFailover.Protos;
using RedisFailover.Store;

namespace RedisFailover.Coordination;

/// <summary>An agent's open stream: commands go out through its bounded queue.</summary>
internal sealed class AgentSession(string node)
{
    /// <summary>
    /// Messages waiting for the agent. An agent that does not read its stream (a stalled peer, or a
    /// client that asks for acknowledgements and never reads them) is cut off when its queue is full,
    /// never buffered without bound.
    /// </summary>
    public const int OutboundCapacity = 1024;

    public string Node { get; } = node;

    public Channel<CoordinatorMessage> Outbound { get; } = Channel.CreateBounded<CoordinatorMessage>(
        new BoundedChannelOptions(OutboundCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    /// <summary>Cancelled when a newer stream of the same node replaces this one, or when it is cut: the call ends even if its connection went silent.</summary>
    public CancellationTokenSource Replaced { get; } = new();

    /// <summary>Why the coordinator ended this stream, when it did.</summary>
    public string? CutReason { get; private set; }

    /// <summary>Queues a message; a full queue cuts the stream (the agent redials and starts afresh).</summary>
    public void Post(CoordinatorMessage message)
    {
        if (!Outbound.Writer.TryWrite(message) && CutReason is null)
        {
            Cut($"its {OutboundCapacity} queued messages were not read");
        }
    }

    /// <summary>Ends the stream for <paramref name="why"/>.</summary>
    public void Cut(string why)
    {
        if (CutReason is null)
        {
            CutReason = why;
            Outbound.Writer.TryComplete();
            try
            {
                Replaced.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }
}

/// <summary>
/// Runs one resource's <see cref="ResourceMachine"/>: feeds it one event at a time (under a lock),
/// and carries out its effects in order: a term is on disk before the command after it is queued,
/// every journal line is on disk, commands go to the agents' streams, a new primary is published.
/// </summary>
internal sealed partial class ResourceCoordinator
{
    private readonly Lock _lock = new();
    private readonly ResourceMachine _machine;
    private readonly ICoordinatorStore _store;
    private readonly Func<bool> _leads;
    private readonly PrimaryPublisher _publisher;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<string, AgentSession> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string Node, CommandKind Kind, string? Target)> _pending = new(StringComparer.Ordinal);
    private string _incident = "";
    private readonly List<Effect> _held = [];
    private long _durableTerm;

    /// <summary>The in-sync set changed since the record was last written (<see cref="PersistInSync"/>): the coordinator's tick writes it.</summary>
    private bool _recordDirty;

    /// <summary>A resource's writes in one group at most: within one etcd transaction (<see cref="EtcdStore.MaxGroupOperations"/>, two operations a write at most).</summary>
    internal const int MaxGroupWrites = 50;

    /// <summary>The store's group commit (etcd), or null: each write is then made where its effect is carried out.</summary>
    private readonly IGroupCommitStore? _groupCommit;

    /// <summary>A group of this resource's writes is being committed: every later effect waits behind it, in order.</summary>
    private bool _writing;

    /// <summary>The last group's answer, carried out (<see cref="Written"/>): awaited when the coordinator stops.</summary>
    private Task _written = Task.CompletedTask;

    /// <summary>Completes once the writes handed to the group commit so far are answered and what waited on them is carried out.</summary>
    public Task WritesDone
    {
        get
        {
            lock (_lock)
            {
                return _written;
            }
        }
    }
    private DateTimeOffset _lastStoreError;

    /// <summary>Held periodic commands beyond this many effects are not kept.</summary>
    private const int MaxHeld = 1000;

    private static readonly TimeSpan StoreErrorInterval = TimeSpan.FromSeconds(30);

    private readonly ConfiguredValues? _configured;
    private readonly Decisions? _decisions;
    private DateTimeOffset _incidentOpenedAt;

    /// <param name="configured">The configuration's values, kept in the record so that a later start can tell whether the configuration changed since (<see cref="DesiredState"/>).</param>
    /// <param name="decisions">Where decisions are counted for the metrics (none in tests that build one resource by hand).</param>
    public ResourceCoordinator(ResourceMachine machine, ICoordinatorStore store, PrimaryPublisher publisher, TimeProvider time, ILogger logger, Func<bool>? leads = null, ConfiguredValues? configured = null, Decisions? decisions = null)
    {
        _configured = configured;
        _decisions = decisions;
        decisions?.Known(machine.Resource);
        _leads = leads ?? (() => true);
        _machine = machine;
        _store = store;
        _groupCommit = store as IGroupCommitStore;
        _publisher = publisher;
        _time = time;
        _logger = logger;
        _durableTerm = machine.Term;
    }

    public string Name => _machine.Resource;

    public ResourceMachine Machine => _machine;

    /// <summary>Runs <paramref name="step"/> on the machine and carries out what it asks.</summary>
    public void Step(Func<ResourceMachine, DateTimeOffset, IReadOnlyList<Effect>> step)
    {
        lock (_lock)
        {
            Execute(step(_machine, _time.GetUtcNow()));
        }
    }

    /// <summary>Like <see cref="Step(Func{ResourceMachine, DateTimeOffset, IReadOnlyList{Effect}})"/>, with its input passed rather than captured: for a step on every report, where a closure a report adds up.</summary>
    public void Step<TInput>(TInput input, Func<ResourceMachine, TInput, DateTimeOffset, IReadOnlyList<Effect>> step)
    {
        lock (_lock)
        {
            Execute(step(_machine, input, _time.GetUtcNow()));
        }
    }

    /// <summary>Like <see cref="Step"/>, for steps that can be refused (an operator's request); returns the refusal.</summary>
    public string? Request(Func<ResourceMachine, DateTimeOffset, (IReadOnlyList<Effect> Effects, string? Refusal)> step)
    {
        lock (_lock)
        {
            var (effects, refusal) = step(_machine, _time.GetUtcNow());
            Execute(effects);
            return refusal;
        }
    }

    public T Read<T>(Func<ResourceMachine, T> read)
    {
        lock (_lock)
        {
            return read(_machine);
        }
    }

    public AgentSession Attach(string node, long termSeen)
    {
        var session = new AgentSession(node);
        lock (_lock)
        {
            if (_sessions.Remove(node, out var previous))
            {
                previous.Outbound.Writer.TryComplete();
                previous.Replaced.Cancel();
            }

            // Connected first: a term the agent has seen and the store has not is taken (Connected sends
            // no command), so the welcome never carries a term lower than the agent's.
            var connected = _machine.Connected(node, termSeen, _time.GetUtcNow());
            _sessions[node] = session;
            session.Post(new CoordinatorMessage { Welcome = new Welcome { Term = _machine.Term, Primary = _machine.Primary ?? "", WindowMs = (long)_machine.Policy.Window.TotalMilliseconds, Membership = Members() } });
            Execute(connected);
        }

        Log.AgentConnected(_logger, Name, node);
        return session;
    }

    public void Detach(AgentSession session)
    {
        lock (_lock)
        {
            if (_sessions.TryGetValue(session.Node, out var current) && ReferenceEquals(current, session))
            {
                _sessions.Remove(session.Node);
                // Commands that went into the stream and were never answered may never have arrived (a
                // stream dies silently first). Said in the journal; the machine sends what the node
                // still needs as soon as its agent is back (its first report is reconciled at once).
                foreach (var (id, pending) in _pending.Where(p => p.Value.Node == session.Node).ToList())
                {
                    _pending.TryRemove(id, out _);
                    if (pending.Kind is not (CommandKind.ProbeNow or CommandKind.RestartLease))
                    {
                        Journal("undelivered", $"{pending.Kind}{(pending.Target is null ? "" : " " + pending.Target)} for {session.Node}: its stream ended before it answered; sent again when its agent is back");
                    }
                }

                Execute(_machine.Disconnected(session.Node, _time.GetUtcNow()));
                Log.AgentDisconnected(_logger, Name, session.Node);
            }

            session.Outbound.Writer.TryComplete();
        }
    }

    /// <summary>
    /// A planned switchover that loses no acknowledged write: the primary's writes are paused (its
    /// fence answers with the offset it stopped at), the target is asked to reach that offset within
    /// <paramref name="catchUp"/>, and only then promoted; otherwise the primary is unfenced. The
    /// refusal or rollback in words, or null when the target was promoted.
    /// </summary>
    /// <param name="abandon">Cancelled when the coordinator stops (SIGTERM) or the caller goes away: the switchover is rolled back at once, the primary taking writes again before the process exits, rather than left paused for the wait's remainder.</param>
    public async Task<string?> SwitchoverAsync(string? to, TimeSpan catchUp, string caller, CancellationToken abandon = default)
    {
        (string Target, string Primary)? plan;
        Task<CommandResult> fenced;
        lock (_lock)
        {
            if (HeldEffects > 0)
            {
                return "the coordinator's store refuses writes: no switchover until it takes them";
            }

            Execute([new JournalLine("operator", $"{caller} asked for a planned switchover{(to is null ? "" : " to " + to)}", _machine.Term)]);
            Execute(_machine.BeginSwitchover(to, out plan, out var refusal));
            if (plan is null)
            {
                return refusal;
            }

            fenced = Awaited(plan.Value.Primary, new Command { Term = _machine.Term, Fence = new Fence { Reason = $"planned switchover to {plan.Value.Target}: writes paused until it has caught up" } });
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        string why;
        var caughtUp = false;
        const string Abandoned = "abandoned: the coordinator is stopping, or its caller went away";
        await ((Task)fenced).WaitAsync(TimeSpan.FromSeconds(5), abandon).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (abandon.IsCancellationRequested)
        {
            why = Abandoned;
        }
        else if (!fenced.IsCompletedSuccessfully || !fenced.Result.Ok)
        {
            why = $"{plan.Value.Primary}'s writes could not be paused ({(fenced.IsCompletedSuccessfully ? fenced.Result.Error : "no answer in 5 s")})";
        }
        else
        {
            Task<CommandResult> reached;
            lock (_lock)
            {
                reached = Awaited(plan.Value.Target, new Command { Term = _machine.Term, CatchUp = new CatchUp { Offset = fenced.Result.ReplicationOffset, TimeoutMs = (long)catchUp.TotalMilliseconds } });
            }

            await ((Task)reached).WaitAsync(catchUp + TimeSpan.FromSeconds(5), abandon).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            caughtUp = reached.IsCompletedSuccessfully && reached.Result.Ok;
            why = caughtUp
                ? string.Create(CultureInfo.InvariantCulture, $"offset {reached.Result.ReplicationOffset} of {fenced.Result.ReplicationOffset}, {clock.Elapsed.TotalMilliseconds:0} ms after the pause")
                : abandon.IsCancellationRequested ? Abandoned
                : reached.IsCompletedSuccessfully ? reached.Result.Error : "no answer";
        }

        lock (_lock)
        {
            // One switchover at a time per resource: whatever was not answered in time is no longer awaited.
            _awaited.Clear();
            Execute(_machine.EndSwitchover(caughtUp, why, _time.GetUtcNow(), out var refusal));
            return refusal;
        }
    }

    // Commands whose answer someone waits for (a switchover's fence and catch-up).
    private readonly ConcurrentDictionary<string, TaskCompletionSource<CommandResult>> _awaited = new(StringComparer.Ordinal);

    /// <summary>Sends <paramref name="command"/> to <paramref name="node"/> and returns its answer to come (a failed one at once when the node has no stream). Under the lock.</summary>
    private Task<CommandResult> Awaited(string node, Command command)
    {
        command.CommandId = Guid.NewGuid().ToString("N");
        if (!_sessions.TryGetValue(node, out var session))
        {
            return Task.FromResult(new CommandResult { CommandId = command.CommandId, Ok = false, Error = $"{node}'s agent is not connected" });
        }

        var answer = new TaskCompletionSource<CommandResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        _awaited[command.CommandId] = answer;
        _pending[command.CommandId] = (node, command.ActionCase == Command.ActionOneofCase.Fence ? CommandKind.Fence : CommandKind.CatchUp, null);
        session.Post(new CoordinatorMessage { Command = command });
        return answer.Task;
    }

    /// <summary>An operator adds a node (see <see cref="ResourceMachine.AddNode"/>); the refusal, or null.</summary>
    public string? AddNode(NodeSpec node, string caller) => Request((machine, now) =>
    {
        var effects = machine.AddNode(node, Origin(caller, "nodes add", now), now, out var refusal);
        return (refusal is null ? effects : [new JournalLine("operator", $"{caller} asked to add {node.Name} ({node.Address}): refused, {refusal}"), .. effects], refusal);
    });

    /// <summary>An operator removes a node (see <see cref="ResourceMachine.RemoveNode"/>): its agent's stream is ended; the refusal, or null.</summary>
    public string? RemoveNode(string node, bool force, string caller)
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            var effects = _machine.RemoveNode(node, force, Origin(caller, "nodes remove", now), now, out var refusal);
            if (refusal is not null)
            {
                Execute([new JournalLine("operator", $"{caller} asked to remove {node}: refused, {refusal}"), .. effects]);
                return refusal;
            }

            Execute(effects);
            foreach (var id in _pending.Where(p => p.Value.Node == node).Select(p => p.Key).ToList())
            {
                _pending.TryRemove(id, out _);
            }

            if (_sessions.Remove(node, out var session))
            {
                // Its agent redials and is refused (no such node) until it is stopped or added again.
                session.Cut($"{node} was removed from {Name}");
            }

            return null;
        }
    }

    /// <summary>How an operator's change is shown beside the value it set: who, with which verb, when.</summary>
    public static string Origin(string caller, string verb, DateTimeOffset at) =>
        string.Create(CultureInfo.InvariantCulture, $"redis-failover {verb} by {caller} at {at.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z");

    private Membership Members()
    {
        var membership = new Membership();
        membership.Members.AddRange(_machine.Nodes.Select(n => new Member { Node = n.Spec.Name, Address = n.Spec.Address, Zone = n.Spec.Zone }));
        return membership;
    }

    /// <summary>The record as the machine has it now.</summary>
    private ResourceRecord Record(long term, string? primary) => new(
        term,
        primary,
        _machine.Settings.TimeoutSeconds,
        _machine.Settings.MaxMemoryPolicy,
        _machine.Paused,
        [.. _machine.InSyncNodes],
        [.. _machine.Nodes.Select(n => new NodeRecord(n.Spec.Name, n.Spec.Address, n.Spec.Zone)).OrderBy(n => n.Name, StringComparer.Ordinal)],
        _machine.Origins,
        _configured);

    /// <summary>An agent's answer to a command: a probe's verdict feeds the confirmation; a refusal goes to the journal.</summary>
    public void Answered(string node, CommandResult result)
    {
        // Only the node a command was sent to answers it: an agent, bound to its own node, cannot
        // carry another node's answer (a forged "promoted" or "paused at offset N").
        if (!_pending.TryGetValue(result.CommandId, out var command) || command.Node != node || !_pending.TryRemove(result.CommandId, out command))
        {
            return;
        }

        if (_awaited.TryRemove(result.CommandId, out var awaited))
        {
            awaited.TrySetResult(result);
        }

        lock (_lock)
        {
            var now = _time.GetUtcNow();
            if (command.Kind == CommandKind.ProbeNow && result.Ok && result.Observation is { } seen)
            {
                var answer = Services.AgentLinkService.ToSeen(seen);
                Execute(_machine.ProbeAnswered(node, answer with { Target = command.Target! }, now));
            }
            else if (!result.Ok)
            {
                Journal("refused", $"{node} did not carry out {command.Kind}: {result.Error}");
            }
            else if (command.Kind == CommandKind.Promote && _afterPromote is { } waiting && waiting.Node == node && waiting.Term == _machine.Term && _leads())
            {
                _afterPromote = null;
                Journal("done", $"{node} carried out {command.Kind}");
                Publish(waiting);
            }
            else if (command.Kind is not (CommandKind.ProbeNow or CommandKind.RestartLease))
            {
                Journal("done", $"{node} carried out {command.Kind}{(command.Target is null ? "" : " " + command.Target)}");
            }
        }
    }

    /// <summary>The new primary, published once its promote is carried out (see <see cref="PublishPrimary"/>'s case).</summary>
    private PublishPrimary? _afterPromote;

    private void Publish(PublishPrimary publish)
    {
        if (_publisher.Publish(Name, publish.Node, publish.Address, publish.Term) is { } failure)
        {
            // Never a reason to stop a failover half way: the promote and the fence go on.
            Journal("publish", failure);
        }
    }

    private void Execute(IReadOnlyList<Effect> effects)
    {
        if (_held.Count > 0 && !_writing)
        {
            RetryHeld();
        }

        if (_held.Count > 0 || _writing)
        {
            // Behind what already waits for the store: effects are carried out in order or not at all.
            Hold(effects);
            return;
        }

        Run(effects);
    }

    /// <summary>
    /// Carries out effects in order. When the store fails, the effect that failed and every one after
    /// it are held, and tried again in order on the next step (the coordinator steps every resource ten
    /// times a second): no command ever leaves under a term that is not on disk, and no decision is
    /// left half done.
    /// </summary>
    private void Run(IReadOnlyList<Effect> effects)
    {
        List<(Effect Held, StoreWrite Write)>? writes = null;
        for (var i = 0; i < effects.Count; i++)
        {
            if (_groupCommit is not null)
            {
                // A store that commits in groups: the writes are gathered, and whatever must not run before
                // they are durable (a command, a publication) waits for them, as it would for a failed store.
                if (Gathered(effects[i]) is { } write)
                {
                    (writes ??= []).Add(write);
                    if (writes.Count >= MaxGroupWrites)
                    {
                        // What waited through a long store outage can be more than one transaction holds: in turns.
                        Submit(writes, effects.Skip(i + 1));
                        return;
                    }

                    continue;
                }

                if (writes is not null && effects[i] is not (IncidentChange or Promoted or SwitchoverEnded))
                {
                    Submit(writes, effects.Skip(i));
                    return;
                }
            }

            try
            {
                CarryOut(effects[i]);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                StoreFailed(ex);
                Hold(effects.Skip(i));
                return;
            }
        }

        if (writes is not null)
        {
            Submit(writes, []);
            return;
        }

        if (StoreFailingSince is { } since)
        {
            Log.StoreRecovered(_logger, Name, (_time.GetUtcNow() - since).TotalSeconds, StoreFailures);
            StoreFailingSince = null;
        }
    }

    /// <summary>
    /// The write an effect makes, resolved now as <see cref="CarryOut"/> would make it (the time, the
    /// term, the open incident), with the effect to hold again should the store refuse it; null for an
    /// effect that writes nothing. An incident's change takes effect here, in order with the lines.
    /// </summary>
    private (Effect Held, StoreWrite Write)? Gathered(Effect effect)
    {
        switch (effect)
        {
            case PersistTerm persist:
                return (persist, new StoreWrite(Record(persist.Term, persist.Primary), null));
            case PersistInSync:
                return (new PersistTerm(_machine.Term, _machine.Primary), new StoreWrite(Record(_machine.Term, _machine.Primary), null));
            case JournalLine line:
                return Line(new JournalRecord(_time.GetUtcNow(), line.Term > 0 ? line.Term : _machine.Term, line.Incident ?? _incident, line.Kind, line.Text));
            case StampedJournal stamped:
                return Line(new JournalRecord(stamped.At, stamped.Term > 0 ? stamped.Term : _machine.Term, stamped.Incident ?? _incident, stamped.Kind, stamped.Text));
            case IncidentChange { ClosedOutcome: { } outcome }:
                var closed = Line(ClosingLine(outcome));
                IncidentClosed(outcome);
                return closed;
            default:
                return null;
        }

        static (Effect, StoreWrite) Line(JournalRecord record) =>
            (new StampedJournal(record.At, record.Kind, record.Text, record.Term, record.Incident), new StoreWrite(null, record));
    }

    /// <summary>Hands <paramref name="writes"/> to the group commit; <paramref name="rest"/> waits for it.</summary>
    private void Submit(List<(Effect Held, StoreWrite Write)> writes, IEnumerable<Effect> rest)
    {
        _writing = true;
        Hold(rest);
        _written = _groupCommit!.WriteAsync(Name, [.. writes.Select(w => w.Write)])
            .ContinueWith(done => Written(done, writes), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    /// <summary>The group that carried this resource's writes is committed (what waited goes on) or refused (it all waits, the writes first, as for a failed store).</summary>
    private void Written(Task done, List<(Effect Held, StoreWrite Write)> writes)
    {
        lock (_lock)
        {
            _writing = false;
            if (done.IsCompletedSuccessfully)
            {
                foreach (var (_, write) in writes)
                {
                    if (write.Record is { } record)
                    {
                        _durableTerm = Math.Max(_durableTerm, record.Term);
                    }
                    else if (write.Line is { } line)
                    {
                        Logged(line);
                    }
                }

                if (StoreFailingSince is { } since)
                {
                    Log.StoreRecovered(_logger, Name, (_time.GetUtcNow() - since).TotalSeconds, StoreFailures);
                    StoreFailingSince = null;
                }

                if (_held.Count > 0)
                {
                    try
                    {
                        RetryHeld();
                    }
                    catch (Exception ex)
                    {
                        // Run on the commit's thread: a fault is reported, and the tick tries again.
                        Log.ContinuationFailed(_logger, Name, ex.GetType().Name, ex.Message);
                    }
                }
            }
            else
            {
                var error = done.Exception?.GetBaseException() ?? new IOException("the write was cancelled");
                StoreFailed(error is IOException or UnauthorizedAccessException ? error : new IOException(error.Message, error));
                _held.InsertRange(0, writes.Select(w => w.Held));
            }
        }
    }

    private void RetryHeld()
    {
        var pending = _held.ToList();
        _held.Clear();
        Run(pending);
    }

    private void Hold(IEnumerable<Effect> effects)
    {
        foreach (var effect in effects)
        {
            switch (effect)
            {
                // Periodic commands are asked again by the machine; past a bound they are not kept.
                case SendCommand { Kind: CommandKind.ProbeNow or CommandKind.RestartLease } when _held.Count >= MaxHeld:
                    continue;
                // A journal line keeps the time of its decision, not of its retry (its incident is the one open when its turn comes).
                case JournalLine line:
                    _held.Add(new StampedJournal(_time.GetUtcNow(), line.Kind, line.Text, line.Term, line.Incident));
                    break;
                default:
                    _held.Add(effect);
                    break;
            }
        }
    }

    private void StoreFailed(Exception ex)
    {
        StoreFailures++;
        var now = _time.GetUtcNow();
        if (StoreFailingSince is null || now - _lastStoreError >= StoreErrorInterval)
        {
            // Once, then once every interval: a full disk must not also fill the log.
            Log.StoreFailed(_logger, Name, _store.Describe, ex.Message, StoreFailures, _held.Count);
            _lastStoreError = now;
        }

        StoreFailingSince ??= now;
    }

    private void CarryOut(Effect effect)
    {
        switch (effect)
        {
            case PersistTerm persist:
                _store.Save(Name, Record(persist.Term, persist.Primary));
                _durableTerm = Math.Max(_durableTerm, persist.Term);
                _recordDirty = false;
                break;
            case PersistInSync:
                _recordDirty = true;
                break;
            case JournalLine line:
                AppendJournal(new JournalRecord(_time.GetUtcNow(), line.Term > 0 ? line.Term : _machine.Term, line.Incident ?? _incident, line.Kind, line.Text));
                break;
            case StampedJournal stamped:
                // The incident is the one open when the line's turn comes: held incident changes run in order before it.
                AppendJournal(new JournalRecord(stamped.At, stamped.Term > 0 ? stamped.Term : _machine.Term, stamped.Incident ?? _incident, stamped.Kind, stamped.Text));
                break;
            case SendCommand send:
                Leading();
                EnsureDurable(send.Term);
                Send(send);
                break;
            case PublishPrimary publish:
                Leading();
                EnsureDurable(publish.Term);
                if (_pending.Values.Any(p => p.Node == publish.Node && p.Kind == CommandKind.Promote))
                {
                    // A promoted node is published once it says it is the primary, never before: an
                    // application that reconnects at once must find a node that takes its writes.
                    _afterPromote = publish;
                }
                else
                {
                    Publish(publish);
                }

                break;
            case MembershipChanged:
                var membership = new CoordinatorMessage { Membership = Members() };
                foreach (var session in _sessions.Values)
                {
                    session.Post(membership);
                }

                break;
            case IncidentChange { OpenedId: { } opened }:
                _incident = opened;
                _incidentOpenedAt = _time.GetUtcNow();
                _decisions?.Opened(Name);
                break;
            case IncidentChange { ClosedOutcome: { } outcome }:
                AppendJournal(ClosingLine(outcome));
                IncidentClosed(outcome);
                break;
            case Promoted promoted:
                _decisions?.Promoted(Name, promoted.Reason);
                break;
            case SwitchoverEnded ended:
                _decisions?.Switchover(Name, ended.Done);
                break;
            default:
                throw new InvalidOperationException($"Unexpected effect {effect}.");
        }
    }

    /// <summary>The journal line that closes the open incident.</summary>
    private JournalRecord ClosingLine(string outcome) => new(_time.GetUtcNow(), _machine.Term, _incident, "closed", outcome);

    /// <summary>The open incident is closed: counted, and no longer the one new lines belong to.</summary>
    private void IncidentClosed(string outcome)
    {
        _decisions?.Closed(Name, outcome, _time.GetUtcNow() - _incidentOpenedAt);
        _incident = "";
    }

    /// <summary>No command leaves, and nothing is published, once this coordinator's leadership has ended (by its own clock).</summary>
    private void Leading()
    {
        if (!_leads())
        {
            throw new NotLeaderException("this coordinator no longer leads: nothing is sent");
        }
    }

    /// <summary>Leadership ended: every agent's stream is cut (they redial, and find the leader); nothing held is carried out.</summary>
    public void LetGo(string why)
    {
        lock (_lock)
        {
            _held.Clear();
            foreach (var session in _sessions.Values)
            {
                session.Cut(why);
            }

            _sessions.Clear();
        }
    }

    /// <summary>Appends one line (throwing when the store refuses it, so that <see cref="Run"/> holds it and what follows).</summary>
    private void AppendJournal(JournalRecord record)
    {
        _store.Append(Name, record);
        Logged(record);
    }

    private void Logged(JournalRecord record)
    {
        Log.Journal(_logger, Name, record.Kind, record.Text);
        if (record.Kind == "recovered")
        {
            Log.TermRecovered(_logger, Name, record.Text);
        }
    }

    /// <summary>Writes the machine's record before anything of a term not yet on disk leaves (a switchover's fence goes before its promote).</summary>
    private void EnsureDurable(long term)
    {
        if (term > _durableTerm)
        {
            SaveRecord();
        }
    }

    /// <summary>Persists the settings and the pause (which the machine changes without a term).</summary>
    private void SaveRecord()
    {
        _store.Save(Name, Record(_machine.Term, _machine.Primary));
        _durableTerm = Math.Max(_durableTerm, _machine.Term);
        _recordDirty = false;
    }

    /// <summary>
    /// The record to write in the coordinator's batch, when the in-sync set changed since the last
    /// write; null otherwise, and while effects wait for the store (they go first, in order) or this
    /// coordinator no longer leads.
    /// </summary>
    public ResourceRecord? TakeDirtyRecord()
    {
        lock (_lock)
        {
            if (!_recordDirty || _held.Count > 0 || _writing || !_leads())
            {
                return null;
            }

            _recordDirty = false;
            return Record(_machine.Term, _machine.Primary);
        }
    }

    /// <summary>The batch that carried <paramref name="record"/> was written.</summary>
    public void RecordWritten(ResourceRecord record)
    {
        lock (_lock)
        {
            _durableTerm = Math.Max(_durableTerm, record.Term);
        }
    }

    /// <summary>
    /// The batch that carried this resource's record was refused (another resource's record had moved,
    /// or the store failed): written on its own, as an effect, held and retried like any other.
    /// </summary>
    public void RecordNotWritten()
    {
        lock (_lock)
        {
            Execute([new PersistTerm(_machine.Term, _machine.Primary)]);
        }
    }

    /// <summary>
    /// A store that refuses writes, as a reason a failover could not happen now (no new term could be
    /// written, so nothing would be promoted until it takes writes again); null while it takes them.
    /// </summary>
    public (string Code, string Text)? StoreBlocker => StoreFailingSince is { } since
        ? ("store_unavailable", string.Create(CultureInfo.InvariantCulture,
            $"the coordinator's store has refused writes since {since.UtcDateTime:HH:mm:ss}Z: no new term can be written, so nothing can be promoted"))
        : null;

    /// <summary>Effects waiting for the store to accept a write again.</summary>
    public int HeldEffects
    {
        get
        {
            lock (_lock)
            {
                return _held.Count;
            }
        }
    }

    /// <summary>Store writes that failed since the coordinator started.</summary>
    public long StoreFailures { get; private set; }

    /// <summary>Since when the store refuses writes; null while it takes them.</summary>
    public DateTimeOffset? StoreFailingSince { get; private set; }

    /// <summary>Tries again what waits for the store (the tick calls it).</summary>
    public void Retry()
    {
        lock (_lock)
        {
            if (_held.Count > 0 && !_writing)
            {
                RetryHeld();
            }
        }
    }

    private void Send(SendCommand send)
    {
        var command = new Command { CommandId = Guid.NewGuid().ToString("N"), Term = send.Term };
        switch (send.Kind)
        {
            case CommandKind.ProbeNow:
                command.ProbeNow = new ProbeNow { Target = send.Argument ?? "" };
                break;
            case CommandKind.Promote:
                command.Promote = new Protos.Promote();
                break;
            case CommandKind.ReplicateFrom:
                command.ReplicateFrom = new ReplicateFrom { Address = send.Argument ?? "" };
                break;
            case CommandKind.ApplySettings:
                command.ApplySettings = new ApplySettings { Settings = ToProto(send.Settings ?? ResourceSettings.None) };
                break;
            case CommandKind.Fence:
                command.Fence = new Fence { Reason = send.Argument ?? "" };
                break;
            case CommandKind.Unfence:
                command.Unfence = new Unfence();
                break;
            case CommandKind.RestartLease:
                var lease = send.Lease ?? throw new InvalidOperationException("A RestartLease command without its lease.");
                command.RestartLease = new Protos.RestartLease
                {
                    Granted = lease.Granted,
                    TtlMs = (long)lease.Ttl.TotalMilliseconds,
                    FenceOnStart = lease.FenceOnStart,
                    Reason = lease.Reason,
                    NoStandby = lease.NoStandby,
                    NotPrimary = lease.NotPrimary,
                };
                break;
            default:
                throw new InvalidOperationException($"Unexpected command {send.Kind}.");
        }

        if (_sessions.TryGetValue(send.Node, out var session))
        {
            _pending[command.CommandId] = (send.Node, send.Kind, send.Argument);
            session.Post(new CoordinatorMessage { Command = command });
        }
        else if (send.Kind is not (CommandKind.ProbeNow or CommandKind.RestartLease))
        {
            Journal("unsent", $"{send.Kind} for {send.Node} not sent: its agent is not connected");
        }
    }

    private void Journal(string kind, string text, long? term = null)
    {
        var stamped = new StampedJournal(_time.GetUtcNow(), kind, text, term ?? 0);
        if (_held.Count > 0 || _writing)
        {
            _held.Add(stamped);
            return;
        }

        if (_groupCommit is not null)
        {
            Run([stamped]);
            return;
        }

        try
        {
            CarryOut(stamped);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            StoreFailed(ex);
            _held.Add(stamped);
        }
    }

    /// <summary>A journal line waiting for the store, with the time it was decided at.</summary>
    private sealed record StampedJournal(DateTimeOffset At, string Kind, string Text, long Term, string? Incident = null) : Effect;

    public static Protos.Settings ToProto(ResourceSettings settings)
    {
        var proto = new Protos.Settings();
        if (settings.TimeoutSeconds is { } timeout)
        {
            proto.TimeoutSeconds = timeout;
        }

        if (settings.MaxMemoryPolicy is { } policy)
        {
            proto.MaxmemoryPolicy = policy;
        }

        return proto;
    }

    public static Timestamp Stamp(DateTimeOffset at) => Timestamp.FromDateTimeOffset(at);

    public static string Describe(ResourceMachine m) => string.Create(CultureInfo.InvariantCulture, $"{m.State} term {m.Term} primary {m.Primary ?? "-"}");

    private static partial class Log
    {
        [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "{Resource}: agent {Node} connected")]
        public static partial void AgentConnected(ILogger logger, string resource, string node);

        [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "{Resource}: agent {Node} disconnected")]
        public static partial void AgentDisconnected(ILogger logger, string resource, string node);

        [LoggerMessage(EventId = 2032, Level = LogLevel.Critical, Message = "{Resource}: the store was behind the agents: {Text}")]
        public static partial void TermRecovered(ILogger logger, string resource, string text);

        [LoggerMessage(EventId = 2030, Level = LogLevel.Error, Message = "{Resource}: the store ({Directory}) refused a write: {Error}. Failures so far: {Failures}; {Held} effects wait, and no command of an unwritten term leaves; retrying")]
        public static partial void StoreFailed(ILogger logger, string resource, string directory, string error, long failures, int held);

        [LoggerMessage(EventId = 2031, Level = LogLevel.Warning, Message = "{Resource}: the store takes writes again after {Seconds:0.0} s ({Failures} failed writes); what waited was carried out in order")]
        public static partial void StoreRecovered(ILogger logger, string resource, double seconds, long failures);

        [LoggerMessage(EventId = 2033, Level = LogLevel.Error, Message = "{Resource}: what waited for the store failed once it was written, and is tried again at the next tick: {Type}: {Message}")]
        public static partial void ContinuationFailed(ILogger logger, string resource, string type, string message);

        [LoggerMessage(EventId = 2010, Level = LogLevel.Information, Message = "{Resource} journal {Kind}: {Text}")]
        public static partial void Journal(ILogger logger, string resource, string kind, string text);
    }
}
