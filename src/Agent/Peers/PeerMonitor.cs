using System.Globalization;
using System.Threading.Channels;
using RedisShared.Security;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.HostProbing;
using RedisAgent.Node;
using RedisAgent.Probing;

namespace RedisAgent.Peers;

/// <summary>
/// Watches the other nodes of the resource, each on loops of its own, so this agent is a vantage
/// point for them. Nothing here shares a loop with the agent's own node: a dead or silent peer
/// cannot slow the local probes. The configured <c>Peers</c> are watched from the start; once the
/// coordinator names the resource's nodes (<see cref="Membership"/>), exactly those are watched: a
/// node added at run time is probed at the address the coordinator gives (port probes only, unless
/// it is also configured under <c>Peers</c> with its SSH settings): over TLS with this node's
/// credentials and trust, over plain text without credentials (a refusal to authenticate proves it
/// alive). A node removed is no longer watched or reported.
/// </summary>
internal sealed partial class PeerMonitor : BackgroundService
{
    private readonly ProbeTargets _targets;
    private readonly ObservationBook _book;
    private readonly Func<ProbeTarget, TargetMonitor> _create;
    private readonly ILogger<PeerMonitor> _logger;
    private readonly Membership _membership;
    private readonly Channel<IReadOnlyList<Member>> _changes = Channel.CreateUnbounded<IReadOnlyList<Member>>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<string, Watched> _watched = new(StringComparer.Ordinal);

    public PeerMonitor(
        ProbeTargets targets,
        ObservationBook book,
        TlsTrust tls,
        HostProbeFactory hosts,
        Membership membership,
        IOptions<ProbeOptions> probeOptions,
        IOptions<VerdictOptions> verdictOptions,
        IOptions<Connection.AgentOptions> agent,
        TimeProvider time,
        ILogger<PeerMonitor> logger)
    {
        _targets = targets;
        _book = book;
        _logger = logger;
        _membership = membership;
        // Peers are trusted like the agent's own node for TLS: one resource, one CA or pin set.
        // Their port probes leave from Agent:SourceAddress, so a partition of this host cuts them too.
        var source = agent.Value.Source();
        _create = peer => new TargetMonitor(peer, probeOptions.Value, verdictOptions.Value, tls, hosts, book, time, logger, source: source);
        membership.Changed += OnChanged;
    }

    /// <summary>The peers watched now, by name.</summary>
    public IReadOnlyCollection<string> Watching
    {
        get
        {
            lock (_watched)
            {
                return [.. _watched.Keys];
            }
        }
    }

    public override void Dispose()
    {
        _membership.Changed -= OnChanged;
        lock (_watched)
        {
            foreach (var watched in _watched.Values)
            {
                watched.Monitor.Dispose();
                watched.Stop.Dispose();
            }
        }

        base.Dispose();
    }

    private void OnChanged(IReadOnlyList<Member> members) => _changes.Writer.TryWrite(members);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var peer in _targets.Peers)
        {
            Start(peer, stoppingToken);
        }

        if (_membership.Current is { } known)
        {
            _changes.Writer.TryWrite(known);
        }

        try
        {
            await foreach (var members in _changes.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                await ApplyAsync(members, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            List<Watched> all;
            lock (_watched)
            {
                all = [.. _watched.Values];
            }

            foreach (var watched in all)
            {
                await watched.Stop.CancelAsync().ConfigureAwait(false);
            }

            await Task.WhenAll(all.Select(w => w.Loops)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Watches exactly the members other than this node.</summary>
    private async Task ApplyAsync(IReadOnlyList<Member> members, CancellationToken stoppingToken)
    {
        var wanted = members.Where(m => m.Name != _targets.Local.Name).ToDictionary(m => m.Name, StringComparer.Ordinal);
        List<Watched> leaving;
        lock (_watched)
        {
            leaving = [.. _watched.Values.Where(w => !wanted.ContainsKey(w.Target.Name))];
        }

        foreach (var watched in leaving)
        {
            await watched.Stop.CancelAsync().ConfigureAwait(false);
            await watched.Loops.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            lock (_watched)
            {
                _watched.Remove(watched.Target.Name);
            }

            watched.Monitor.Dispose();
            watched.Stop.Dispose();
            _book.Unregister(watched.Target.Name);
            Log.NoLongerWatching(_logger, watched.Target.Name);
        }

        foreach (var member in wanted.Values)
        {
            bool known;
            lock (_watched)
            {
                known = _watched.ContainsKey(member.Name);
            }

            if (known)
            {
                continue;
            }

            if (_targets.Peers.FirstOrDefault(p => p.Name == member.Name) is { } configured)
            {
                Start(configured, stoppingToken);
            }
            else if (Learned(member) is { } learned)
            {
                Log.WatchingLearned(_logger, member.Name, learned.Endpoint.HostAndPort);
                Start(learned, stoppingToken);
            }
            else
            {
                Log.UnusableAddress(_logger, member.Name, RedisShared.Hosting.Quoted.Printable(member.Address));
            }
        }
    }

    /// <summary>A node the coordinator named and the configuration does not: this node's URL with the member's host and port.</summary>
    private ProbeTarget? Learned(Member member)
    {
        var colon = member.Address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(member.Address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return null;
        }

        // This node's credentials go only where TLS proves who answers (rediss://, always verified): an
        // address an operator typed into nodes add must not collect the resource's password in clear text.
        var local = _targets.Local.Endpoint;
        var endpoint = local.Tls
            ? local with { Host = member.Address[..colon].Trim('[', ']'), Port = port }
            : local with { Host = member.Address[..colon].Trim('[', ']'), Port = port, User = null, Password = null };
        return new ProbeTarget(member.Name, IsLocal: false, endpoint, Ssh: null, "the coordinator's list of nodes", Anonymous: !local.Tls && local.Password is not null);
    }

    private void Start(ProbeTarget target, CancellationToken stoppingToken)
    {
        var stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var monitor = _create(target);
        var loops = Task.Run(() => monitor.RunAsync(stop.Token), CancellationToken.None);
        lock (_watched)
        {
            _watched[target.Name] = new Watched(target, monitor, stop, loops);
        }
    }

    private sealed record Watched(ProbeTarget Target, TargetMonitor Monitor, CancellationTokenSource Stop, Task Loops);

    private static partial class Log
    {
        [LoggerMessage(EventId = 1030, Level = LogLevel.Information, Message = "Watching {Peer} at {Address}, which the coordinator names as a node of the resource: port probes only, with this node's credentials over TLS and none over plain text (configure it under Peers, with its Ssh settings, for host probes)")]
        public static partial void WatchingLearned(ILogger logger, string peer, string address);

        [LoggerMessage(EventId = 1031, Level = LogLevel.Information, Message = "No longer watching {Peer}: the coordinator no longer names it as a node of the resource")]
        public static partial void NoLongerWatching(ILogger logger, string peer);

        [LoggerMessage(EventId = 1032, Level = LogLevel.Warning, Message = "The coordinator names {Peer} as a node at '{Address}', which is not host:port: it is not watched")]
        public static partial void UnusableAddress(ILogger logger, string peer, string address);
    }
}
