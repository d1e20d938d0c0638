using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;
using RedisFailover.Protos;
using RedisFailover.Store;

namespace RedisFailover.Coordination;

/// <summary>An agent's open stream: commands go out through its queue.</summary>
internal sealed class AgentSession(string node)
{
    public string Node { get; } = node;

    public Channel<CoordinatorMessage> Outbound { get; } = Channel.CreateUnbounded<CoordinatorMessage>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Cancelled when a newer stream of the same node replaces this one: the old call ends even if its connection went silent.</summary>
    public CancellationTokenSource Replaced { get; } = new();
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
    private readonly FileStore _store;
    private readonly PrimaryPublisher _publisher;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<string, AgentSession> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string Node, CommandKind Kind, string? Target)> _pending = new(StringComparer.Ordinal);
    private string _incident = "";

    public ResourceCoordinator(ResourceMachine machine, FileStore store, PrimaryPublisher publisher, TimeProvider time, ILogger logger)
    {
        _machine = machine;
        _store = store;
        _publisher = publisher;
        _time = time;
        _logger = logger;
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

            _sessions[node] = session;
            session.Outbound.Writer.TryWrite(new CoordinatorMessage { Welcome = new Welcome { Term = _machine.Term, Primary = _machine.Primary ?? "" } });
            Execute(_machine.Connected(node, termSeen, _time.GetUtcNow()));
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
                Execute(_machine.Disconnected(session.Node, _time.GetUtcNow()));
                Log.AgentDisconnected(_logger, Name, session.Node);
            }

            session.Outbound.Writer.TryComplete();
        }
    }

    /// <summary>An agent's answer to a command: a probe's verdict feeds the confirmation; a refusal goes to the journal.</summary>
    public void Answered(string node, CommandResult result)
    {
        if (!_pending.TryRemove(result.CommandId, out var command))
        {
            return;
        }

        lock (_lock)
        {
            var now = _time.GetUtcNow();
            if (command.Kind == CommandKind.ProbeNow && result.Ok && result.Observation is { } seen)
            {
                Execute(_machine.ProbeAnswered(node, command.Target!, seen.Verdict, now, seen.Detail));
            }
            else if (!result.Ok)
            {
                Journal("refused", $"{node} did not carry out {command.Kind}: {result.Error}");
            }
            else if (command.Kind is not (CommandKind.ProbeNow or CommandKind.RestartLease))
            {
                Journal("done", $"{node} carried out {command.Kind}{(command.Target is null ? "" : " " + command.Target)}");
            }
        }
    }

    private void Execute(IReadOnlyList<Effect> effects)
    {
        foreach (var effect in effects)
        {
            switch (effect)
            {
                case PersistTerm persist:
                    _store.Save(Name, new ResourceRecord(persist.Term, persist.Primary, _machine.Settings.TimeoutSeconds, _machine.Settings.MaxMemoryPolicy, _machine.Paused));
                    break;
                case JournalLine line:
                    Journal(line.Kind, line.Text, line.Term);
                    break;
                case SendCommand send:
                    Send(send);
                    break;
                case PublishPrimary publish:
                    _publisher.Publish(Name, publish.Node, publish.Address, publish.Term);
                    break;
                case IncidentChange { OpenedId: { } opened }:
                    _incident = opened;
                    break;
                case IncidentChange { ClosedOutcome: { } outcome }:
                    Journal("closed", outcome);
                    _incident = "";
                    break;
                default:
                    throw new InvalidOperationException($"Unexpected effect {effect}.");
            }
        }
    }

    /// <summary>Persists the settings and the pause (which the machine changes without a term).</summary>
    public void SaveRecord() =>
        _store.Save(Name, new ResourceRecord(_machine.Term, _machine.Primary, _machine.Settings.TimeoutSeconds, _machine.Settings.MaxMemoryPolicy, _machine.Paused));

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
                };
                break;
            default:
                throw new InvalidOperationException($"Unexpected command {send.Kind}.");
        }

        if (_sessions.TryGetValue(send.Node, out var session))
        {
            _pending[command.CommandId] = (send.Node, send.Kind, send.Argument);
            session.Outbound.Writer.TryWrite(new CoordinatorMessage { Command = command });
        }
        else if (send.Kind is not (CommandKind.ProbeNow or CommandKind.RestartLease))
        {
            Journal("unsent", $"{send.Kind} for {send.Node} not sent: its agent is not connected");
        }
    }

    private void Journal(string kind, string text, long? term = null)
    {
        _store.Append(Name, new JournalRecord(_time.GetUtcNow(), term is > 0 ? term.Value : _machine.Term, _incident, kind, text));
        Log.Journal(_logger, Name, kind, text);
    }

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

        [LoggerMessage(EventId = 2010, Level = LogLevel.Information, Message = "{Resource} journal {Kind}: {Text}")]
        public static partial void Journal(ILogger logger, string resource, string kind, string text);
    }
}
