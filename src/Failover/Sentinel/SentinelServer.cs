using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisFailover.Coordination;
using RedisFailover.Hosting;
using RedisFailover.Protos;
using RedisFailover.Store;

namespace RedisFailover.Sentinel;

/// <summary>
/// Redis Sentinel's discovery protocol, so that the clients applications already use
/// (StackExchange.Redis <c>serviceName=</c>, redis-py's <c>Sentinel</c>, Jedis, ioredis...) find
/// the primary and follow a failover: the master name is the resource's name. What clients use is
/// answered as Sentinel 7 answers it; everything else gets an error, never a hang.
/// </summary>
internal sealed partial class SentinelServer(
    IOptions<SentinelOptions> options,
    IOptions<ResourcesOptions> resources,
    IOptions<FailoverOptions> failover,
    Coordinator coordinator,
    ICoordinatorStore store,
    PrimaryPublisher publisher,
    RedisFailover.Trust.ServerTls serverTls,
    ILogger<SentinelServer> logger) : BackgroundService
{
    private readonly SentinelOptions _options = options.Value;
    private readonly int _maxConnections = options.Value.MaxConnectionsUnder(RedisShared.Hosting.DescriptorLimit.Current(), failover.Value.MaxConnections);
    private readonly ConcurrentDictionary<Client, byte> _clients = new();
    private readonly string _myId = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(
        "redis-failover sentinel " + (options.Value.Urls ?? "") + " " + FailoverHost.StoreDirectory(failover.Value))));

    /// <summary>How long a client may take over its TLS handshake before it is closed.</summary>
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(5);

    private long _nextId;

    // Sockets open now, handshakes included: what Sentinel:MaxConnections bounds.
    private int _open;

    private readonly List<(TcpListener Listener, bool Tls)> _listeners = [];

    // Every connection's task, so that a stop waits for them rather than leaving them behind.
    private readonly ConcurrentDictionary<long, Task> _connections = new();

    // What a follower last read from the store, per resource, and when (Environment.TickCount64).
    private readonly ConcurrentDictionary<string, (ResourceRecord Record, long At)> _stored = new(StringComparer.Ordinal);
    private long _nextConnection;

    /// <summary>Listens before the host says it started: a client may connect the moment the coordinator is up, and an address taken stops the start, named.</summary>
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (!string.IsNullOrWhiteSpace(_options.TlsUrls) && serverTls.Current is null)
        {
            throw new ConfigFileException("Sentinel:TlsUrls serves the coordinator's certificate: set Failover:Tls:CertFile and Failover:Tls:KeyFile");
        }

        foreach (var (endpoint, tls) in _options.Endpoints())
        {
            var listener = new TcpListener(endpoint);
            try
            {
                listener.Start(backlog: 512);
            }
            catch (SocketException ex) when (_options.IsDefault)
            {
                // Not asked for by the operator: failover goes on without the endpoint, said loudly.
                Log.DefaultTaken(logger, endpoint.ToString(), ex.Message);
                listener.Dispose();
                continue;
            }
            catch (SocketException ex)
            {
                StopListening();
                throw new ConfigFileException($"Sentinel:Urls: {endpoint} cannot be listened on: {ex.Message}");
            }

            _listeners.Add((listener, tls));
            Log.Listening(logger, endpoint.ToString() + (tls ? " (TLS)" : ""));
        }

        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_listeners.Count == 0)
        {
            return;
        }

        try
        {
            var watchers = coordinator.Configured.Select(name => WatchAsync(name, stoppingToken))
                .Append(WatchStatesAsync(stoppingToken)).ToList();
            await Task.WhenAll(_listeners.Select(l => AcceptAsync(l.Listener, l.Tls, stoppingToken)).Concat(watchers)).ConfigureAwait(false);
        }
        finally
        {
            StopListening();
            // Each connection reads with the stopping token: they end at once; a bound all the same.
            await Task.WhenAll(_connections.Values).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private void StopListening()
    {
        foreach (var (listener, _) in _listeners)
        {
            listener.Stop();
        }

        _listeners.Clear();
    }

    private async Task AcceptAsync(TcpListener listener, bool tls, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            if (Volatile.Read(ref _open) >= _maxConnections)
            {
                // Redis's own answer to one client too many, then the door.
                using (socket)
                {
                    try
                    {
                        await socket.SendAsync("-ERR max number of clients reached\r\n"u8.ToArray(), SocketFlags.None).ConfigureAwait(false);
                    }
                    catch (SocketException)
                    {
                        // Gone already: the door is closed all the same, and the next client is accepted.
                    }
                }

                continue;
            }

            socket.NoDelay = true;
            Interlocked.Increment(ref _open);
            var id = Interlocked.Increment(ref _nextConnection);
            _connections[id] = TrackedAsync(id, socket, tls, stoppingToken);
        }
    }

    /// <summary>One connection, from accept to close: removed from the tracked set when it ends; a fault in it is logged and closes only it.</summary>
    private async Task TrackedAsync(long id, Socket socket, bool tls, CancellationToken stoppingToken)
    {
        // Registered before it can end.
        await Task.Yield();
        try
        {
            await ServeAsync(socket, tls, stoppingToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.ConnectionFailed(logger, ex);
        }
        finally
        {
            _connections.TryRemove(id, out _);
        }
    }

    private async Task ServeAsync(Socket socket, bool tls, CancellationToken stoppingToken)
    {
        Client? client = null;
        try
        {
            await using var stream = tls ? await HandshakeAsync(socket, stoppingToken).ConfigureAwait(false) : new NetworkStream(socket, ownsSocket: true);
            if (stream is null)
            {
                return;
            }

            client = new Client(Interlocked.Increment(ref _nextId), new RespConnection(stream), _options.PasswordFile is null);
            _clients[client] = 0;
            await ServeAsync(client, stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            if (client is not null)
            {
                _clients.TryRemove(client, out _);
            }

            Interlocked.Decrement(ref _open);
        }
    }

    /// <summary>The server side of TLS with the coordinator's certificate, bounded in time; null (the socket closed) when the client does not complete it.</summary>
    private async Task<Stream?> HandshakeAsync(Socket socket, CancellationToken stoppingToken)
    {
        var remote = socket.RemoteEndPoint?.ToString() ?? "?";
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        bounded.CancelAfter(HandshakeTimeout);
        try
        {
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificateSelectionCallback = (_, _) => serverTls.Current!,
                ClientCertificateRequired = false,
            }, bounded.Token).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception ex) when (ex is IOException or AuthenticationException or OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Plain text on the TLS port, a handshake refused, or a client that never finishes it.
            Log.HandshakeFailed(logger, remote, ex.Message);
            await ssl.DisposeAsync().ConfigureAwait(false);
            return null;
        }
    }

    private async Task ServeAsync(Client client, CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                List<string>? command;
                try
                {
                    command = await client.Connection.ReadCommandAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (InvalidDataException protocol)
                {
                    // Redis says what was wrong and closes: a stream out of step cannot be read on.
                    await client.Connection.Error("ERR " + protocol.Message).FlushAsync(stoppingToken).ConfigureAwait(false);
                    return;
                }

                if (command is null)
                {
                    return;
                }

                if (command.Count == 0)
                {
                    continue;
                }

                var close = Execute(client, command);
                await client.Connection.FlushAsync(stoppingToken).ConfigureAwait(false);
                foreach (var (channel, message) in client.Caused)
                {
                    await PublishAsync(channel, message, stoppingToken).ConfigureAwait(false);
                }

                client.Caused.Clear();
                if (close)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away, or the coordinator stops.
        }
    }

    /// <summary>Answers one command (appended to the connection's replies); true when the connection is to close after it.</summary>
    private bool Execute(Client client, List<string> command)
    {
        try
        {
            return Dispatch(client, command);
        }
        catch (UnreadableStoreException unreadable)
        {
            // Raised before any part of the reply is written: the error is the whole reply.
            client.Caused.Clear();
            client.Connection.Error(unreadable.Message);
            return false;
        }
    }

    private bool Dispatch(Client client, List<string> command)
    {
        var reply = client.Connection;
        var name = command[0].ToUpperInvariant();
        if (!client.Authenticated && name is not ("AUTH" or "HELLO" or "QUIT"))
        {
            reply.Error("NOAUTH Authentication required.");
            return false;
        }

        if (client.SubscriptionCount > 0 && name is not ("SUBSCRIBE" or "PSUBSCRIBE" or "UNSUBSCRIBE" or "PUNSUBSCRIBE" or "PING" or "QUIT" or "RESET") && !reply.Resp3)
        {
            reply.Error($"ERR Can't execute '{command[0].ToLowerInvariant()}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context");
            return false;
        }

        switch (name)
        {
            case "PING":
                if (client.SubscriptionCount > 0 && !reply.Resp3)
                {
                    reply.Array(2).Bulk("pong").Bulk(command.Count > 1 ? command[1] : "");
                }
                else if (command.Count > 1)
                {
                    reply.Bulk(command[1]);
                }
                else
                {
                    reply.Simple("PONG");
                }

                return false;
            case "ECHO" when command.Count == 2:
                reply.Bulk(command[1]);
                return false;
            case "QUIT":
                reply.Simple("OK");
                return true;
            case "AUTH":
                Authenticate(client, command.Skip(1).ToList());
                return false;
            case "HELLO":
                Hello(client, command);
                return false;
            case "CLIENT":
                ClientCommand(client, command);
                return false;
            case "INFO":
                reply.Bulk(Info(command.Count > 1 ? command[1].ToLowerInvariant() : "default"));
                return false;
            case "ROLE":
                var names = coordinator.Configured.ToList();
                reply.Array(2).Bulk("sentinel").Array(names.Count);
                foreach (var resource in names)
                {
                    reply.Bulk(resource);
                }

                return false;
            case "SENTINEL" when command.Count >= 2:
                SentinelCommand(client, command);
                return false;
            case "SUBSCRIBE" or "PSUBSCRIBE" when command.Count >= 2:
                Subscribe(client, command.Skip(1).ToList(), name == "PSUBSCRIBE");
                return false;
            case "UNSUBSCRIBE" or "PUNSUBSCRIBE":
                Unsubscribe(client, command.Skip(1).ToList(), name == "PUNSUBSCRIBE");
                return false;
            case "RESET":
                client.ClearSubscriptions();
                reply.Resp3 = false;
                reply.Simple("RESET");
                return false;
            case "COMMAND" when command.Count == 1 || command[1].Equals("DOCS", StringComparison.OrdinalIgnoreCase):
                // redis-cli asks for the command table to offer hints: an empty one is a valid answer.
                reply.Array(0);
                return false;
            default:
                reply.Error(Unknown(command));
                return false;
        }
    }

    private void Authenticate(Client client, List<string> arguments)
    {
        var reply = client.Connection;
        if (_options.PasswordFile is null)
        {
            reply.Error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
            return;
        }

        if (arguments.Count is < 1 or > 2)
        {
            reply.Error("ERR wrong number of arguments for 'auth' command");
            return;
        }

        if (Accepts(arguments.Count == 2 ? arguments[0] : "default", arguments[^1]))
        {
            client.Authenticated = true;
            reply.Simple("OK");
        }
        else
        {
            reply.Error("WRONGPASS invalid username-password pair or user is disabled.");
        }
    }

    private bool Accepts(string user, string password) =>
        _options.PasswordFile is not null && user == "default"
        && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(password), Encoding.UTF8.GetBytes(_options.Password()));

    private void Hello(Client client, List<string> command)
    {
        var reply = client.Connection;
        var protocol = reply.Resp3 ? 3 : 2;
        var at = 1;
        if (command.Count > 1)
        {
            if (!int.TryParse(command[1], NumberStyles.None, CultureInfo.InvariantCulture, out protocol) || protocol is < 2 or > 3)
            {
                reply.Error("NOPROTO unsupported protocol version");
                return;
            }

            at = 2;
        }

        for (; at < command.Count; at++)
        {
            var option = command[at].ToUpperInvariant();
            if (option == "AUTH" && at + 2 < command.Count)
            {
                if (!Accepts(command[at + 1], command[at + 2]))
                {
                    reply.Error("WRONGPASS invalid username-password pair or user is disabled.");
                    return;
                }

                client.Authenticated = true;
                at += 2;
            }
            else if (option == "SETNAME" && at + 1 < command.Count)
            {
                client.Name = command[++at];
            }
            else
            {
                reply.Error($"ERR Syntax error in HELLO option '{command[at]}'");
                return;
            }
        }

        if (!client.Authenticated)
        {
            reply.Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
            return;
        }

        reply.Resp3 = protocol == 3;
        reply.Map(7)
            .Bulk("server").Bulk("redis")
            .Bulk("version").Bulk(SentinelOptions.ReportedVersion)
            .Bulk("proto").Integer(protocol)
            .Bulk("id").Integer(client.Id)
            .Bulk("mode").Bulk("sentinel")
            .Bulk("role").Bulk("master")
            .Bulk("modules").Array(0);
    }

    private static void ClientCommand(Client client, List<string> command)
    {
        var reply = client.Connection;
        switch (command.Count >= 2 ? command[1].ToUpperInvariant() : "")
        {
            case "SETNAME" when command.Count == 3:
                client.Name = command[2];
                reply.Simple("OK");
                break;
            case "GETNAME":
                reply.Bulk(client.Name);
                break;
            case "ID":
                reply.Integer(client.Id);
                break;
            case "SETINFO" when command.Count == 4:
                reply.Simple("OK");
                break;
            default:
                reply.Error($"ERR unknown subcommand '{Printable(command.Count >= 2 ? command[1] : "")}'. Try CLIENT HELP.");
                break;
        }
    }

    private void SentinelCommand(Client client, List<string> command)
    {
        var reply = client.Connection;
        var sub = command[1].ToLowerInvariant();
        switch (sub)
        {
            case "get-master-addr-by-name" when command.Count == 3:
                if (View(command[2]) is { PrimaryAddress: { } address })
                {
                    var (host, port) = Split(address);
                    reply.Array(2).Bulk(host).Bulk(port);
                }
                else
                {
                    reply.NullArray();
                }

                return;
            case "masters" when command.Count == 2:
                var views = coordinator.Configured.Select(View).OfType<ResourceView>().ToList();
                reply.Array(views.Count);
                foreach (var view in views)
                {
                    reply.Fields(MasterFields(view));
                }

                return;
            case "master" when command.Count == 3:
                if (View(command[2]) is { } one)
                {
                    reply.Fields(MasterFields(one));
                }
                else
                {
                    reply.Error("ERR No such master with that name");
                }

                return;
            case "replicas" or "slaves" when command.Count == 3:
                if (View(command[2]) is not { } resource)
                {
                    reply.Error("ERR No such master with that name");
                    return;
                }

                var replicas = resource.Nodes.Where(n => n.Name != resource.Primary).ToList();
                reply.Array(replicas.Count);
                foreach (var replica in replicas)
                {
                    reply.Fields(ReplicaFields(resource, replica));
                }

                return;
            case "sentinels" when command.Count == 3:
                if (View(command[2]) is null)
                {
                    reply.Error("ERR No such master with that name");
                    return;
                }

                var peers = _options.PeerEndpoints();
                reply.Array(peers.Count);
                foreach (var (host, port) in peers)
                {
                    var id = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes($"{host}:{port}")));
                    reply.Fields(
                    [
                        ("name", id), ("ip", host), ("port", port), ("runid", id), ("flags", "sentinel"),
                        ("link-pending-commands", "0"), ("link-refcount", "1"), ("last-ping-sent", "0"),
                        ("last-ok-ping-reply", "0"), ("last-ping-reply", "0"), ("down-after-milliseconds", DownAfter()),
                        ("last-hello-message", "0"), ("voted-leader", "?"), ("voted-leader-epoch", "0"),
                    ]);
                }

                return;
            case "ckquorum" when command.Count == 3:
                if (View(command[2]) is not { } checkedView)
                {
                    reply.Error("ERR No such master with that name");
                }
                else if (checkedView.Vantages >= checkedView.Quorum)
                {
                    reply.Simple($"OK {checkedView.Vantages} usable Sentinels. Quorum and failover authorization can be reached");
                }
                else
                {
                    reply.Error($"NOQUORUM {checkedView.Vantages} usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master");
                }

                return;
            case "reset" when command.Count == 3:
                // Sentinel forgets what it discovered of each master the pattern matches; the coordinator
                // discovers nothing (its nodes are configured), so only the event and the count remain.
                var matched = coordinator.Configured.Where(n => Glob.Matches(command[2], n)).ToList();
                foreach (var each in matched)
                {
                    if (View(each) is { PrimaryAddress: { } reset })
                    {
                        var (host, port) = Split(reset);
                        client.Caused.Add(("+reset-master", $"master {each} {host} {port}"));
                    }
                }

                reply.Integer(matched.Count);
                return;
            case "myid" when command.Count == 2:
                reply.Bulk(_myId);
                return;
            default:
                reply.Error($"ERR unknown subcommand '{Printable(command[1])}'. Try SENTINEL HELP.");
                return;
        }
    }

    private static void Subscribe(Client client, List<string> channels, bool patterns)
    {
        foreach (var channel in channels)
        {
            var count = client.Change(channel, patterns, add: true);
            client.Connection.Push(3).Bulk(patterns ? "psubscribe" : "subscribe").Bulk(channel).Integer(count);
        }
    }

    private static void Unsubscribe(Client client, List<string> channels, bool patterns)
    {
        var which = channels.Count > 0 ? channels : client.Subscribed(patterns);
        if (which.Count == 0)
        {
            client.Connection.Push(3).Bulk(patterns ? "punsubscribe" : "unsubscribe").NullBulk().Integer(client.SubscriptionCount);
            return;
        }

        foreach (var channel in which)
        {
            var count = client.Change(channel, patterns, add: false);
            client.Connection.Push(3).Bulk(patterns ? "punsubscribe" : "unsubscribe").Bulk(channel).Integer(count);
        }
    }

    /// <summary>
    /// Follows the resource's published primary: a change of node is Sentinel's <c>+switch-master</c>
    /// (after the promote was carried out, which is when the coordinator publishes), with
    /// <c>+failover-end</c> before it, as Sentinel sends them.
    /// </summary>
    private async Task WatchAsync(string resource, CancellationToken stoppingToken)
    {
        var (reader, subscription) = publisher.Watch(resource);
        using (subscription)
        {
            PrimaryAddress? last = null;
            try
            {
                await foreach (var published in reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
                {
                    if (last is not null && last.Node != published.Node)
                    {
                        var (oldHost, oldPort) = Split(last.Address);
                        var (newHost, newPort) = Split(published.Address);
                        await PublishAsync("+failover-end", $"master {resource} {oldHost} {oldPort}", stoppingToken).ConfigureAwait(false);
                        await PublishAsync("+switch-master", $"{resource} {oldHost} {oldPort} {newHost} {newPort}", stoppingToken).ConfigureAwait(false);
                        Log.Switched(logger, resource, last.Address, published.Address);
                    }

                    last = published;
                }
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>
    /// Sentinel's view of a suspected primary: <c>+sdown</c> and <c>+odown</c> when the coordinator
    /// starts confirming a loss (it already has a vantage's word, so both at once), <c>-odown</c>
    /// and <c>-sdown</c> when the confirmation ends without a failover. Looked at every 100 ms.
    /// </summary>
    private async Task WatchStatesAsync(CancellationToken stoppingToken)
    {
        var confirming = new Dictionary<string, (string Address, string Primary)>(StringComparer.Ordinal);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                foreach (var name in coordinator.Configured)
                {
                    if (coordinator[name] is not { } resource)
                    {
                        continue;
                    }

                    var (state, primary, address, quorum) = resource.Read(m => (m.State, m.Primary, m.PrimaryAddress, m.Policy.QuorumOf(m.Nodes.Count(n => n.Spec.Name != m.Primary))));
                    var was = confirming.TryGetValue(name, out var before);
                    if (state == Coordination.ResourceState.Confirming && !was && address is not null && primary is not null)
                    {
                        var (host, port) = Split(address);
                        confirming[name] = (address, primary);
                        await PublishAsync("+sdown", $"master {name} {host} {port}", stoppingToken).ConfigureAwait(false);
                        await PublishAsync("+odown", $"master {name} {host} {port} #quorum {quorum}/{quorum}", stoppingToken).ConfigureAwait(false);
                    }
                    else if (state != Coordination.ResourceState.Confirming && was)
                    {
                        confirming.Remove(name);
                        if (primary == before.Primary)
                        {
                            var (host, port) = Split(before.Address);
                            await PublishAsync("-odown", $"master {name} {host} {port}", stoppingToken).ConfigureAwait(false);
                            await PublishAsync("-sdown", $"master {name} {host} {port}", stoppingToken).ConfigureAwait(false);
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Sends a Pub/Sub message to every client subscribed to <paramref name="channel"/> (or to a pattern that matches it).</summary>
    internal async Task PublishAsync(string channel, string message, CancellationToken cancellationToken)
    {
        foreach (var client in _clients.Keys)
        {
            // A subscriber that never reads fills its socket: it gets a second, then it is closed, so
            // that it cannot hold the others' events back.
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(TimeSpan.FromSeconds(1));
            try
            {
                if (client.Subscribed(patterns: false).Contains(channel))
                {
                    await client.Connection.SendPushAsync(["message", channel, message], bounded.Token).ConfigureAwait(false);
                }

                foreach (var pattern in client.Subscribed(patterns: true).Where(p => Glob.Matches(p, channel)))
                {
                    await client.Connection.SendPushAsync(["pmessage", pattern, channel, message], bounded.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                client.Connection.Abort();
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
            {
                // That client is gone; its loop removes it.
            }
        }
    }

    /// <summary>What the resource looks like to Sentinel's clients: from the machine while this coordinator leads it, else from the store.</summary>
    private ResourceView? View(string name)
    {
        var configured = resources.Value.Items.FirstOrDefault(r => r.Name == name);
        if (configured is null)
        {
            return null;
        }

        if (coordinator[name] is { } running)
        {
            return running.Read(machine => new ResourceView(
                name,
                machine.Primary,
                machine.PrimaryAddress,
                [.. machine.Nodes.Select(n => new NodeLook(n.Spec.Name, n.Spec.Address, n.Connected, n.Report?.ReplicationOffset ?? 0, n.Report?.LinkUp ?? false, n.Report?.Role ?? NodeRole.Unknown))],
                machine.Policy.QuorumOf(machine.Nodes.Count(n => n.Spec.Name != machine.Primary)),
                machine.Nodes.Count(n => n.Spec.Name != machine.Primary && n.Connected) + 1,
                machine.State,
                machine.Term));
        }

        // A coordinator that does not lead answers from the store: the primary the leader wrote,
        // read at most twice a second per resource however many clients ask.
        var now = Environment.TickCount64;
        ResourceRecord record;
        if (_stored.TryGetValue(name, out var cached) && now - cached.At < 500)
        {
            record = cached.Record;
        }
        else
        {
            try
            {
                record = store.Load(name);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Never a guess: an error, on which Sentinel clients ask the next sentinel.
                throw new UnreadableStoreException($"ERR this coordinator does not lead '{Printable(name)}' and cannot read the store for its primary now");
            }

            _stored[name] = (record, now);
        }

        // The nodes in force: the configuration's, or the ones an operator set later (nodes add|remove), as the leader has them.
        var inForce = Coordination.DesiredState.Resolve(
            record,
            Coordination.DesiredState.Configured(configured),
            resources.Value.Items.IndexOf(configured)).Nodes;
        var nodes = inForce.Select(n => new NodeLook(n.Name, n.Address, false, 0, false, n.Name == record.Primary ? NodeRole.Primary : NodeRole.Replica)).ToList();
        var primaryAddress = inForce.FirstOrDefault(n => n.Name == record.Primary)?.Address;
        return new ResourceView(name, record.Primary, primaryAddress, nodes, failover.Value.Policy.QuorumOf(nodes.Count - 1), 0, Coordination.ResourceState.Healthy, record.Term);
    }

    private List<(string, string)> MasterFields(ResourceView view)
    {
        var (host, port) = view.PrimaryAddress is { } address ? Split(address) : ("?", "0");
        var flags = view.State == Coordination.ResourceState.Confirming ? "master,s_down,o_down" : "master";
        return
        [
            ("name", view.Name), ("ip", host), ("port", port), ("runid", ""), ("flags", flags),
            ("link-pending-commands", "0"), ("link-refcount", "1"), ("last-ping-sent", "0"), ("last-ok-ping-reply", "0"),
            ("last-ping-reply", "0"), ("down-after-milliseconds", DownAfter()), ("info-refresh", "0"),
            ("role-reported", "master"), ("role-reported-time", "0"), ("config-epoch", view.Term.ToString(CultureInfo.InvariantCulture)),
            ("num-slaves", (view.Nodes.Count - (view.Primary is null ? 0 : 1)).ToString(CultureInfo.InvariantCulture)),
            ("num-other-sentinels", _options.PeerEndpoints().Count.ToString(CultureInfo.InvariantCulture)),
            ("quorum", view.Quorum.ToString(CultureInfo.InvariantCulture)), ("failover-timeout", DownAfter()), ("parallel-syncs", "1"),
        ];
    }

    private static List<(string, string)> ReplicaFields(ResourceView view, NodeLook replica)
    {
        var (host, port) = Split(replica.Address);
        var (primaryHost, primaryPort) = view.PrimaryAddress is { } address ? Split(address) : ("?", "0");
        var flags = replica.Connected || !view.Nodes.Any(n => n.Connected) ? "slave" : "slave,s_down";
        return
        [
            ("name", replica.Address), ("ip", host), ("port", port), ("runid", ""), ("flags", flags),
            ("link-pending-commands", "0"), ("link-refcount", "1"), ("last-ping-sent", "0"), ("last-ok-ping-reply", "0"),
            ("last-ping-reply", "0"), ("down-after-milliseconds", "0"), ("info-refresh", "0"),
            ("role-reported", "slave"), ("role-reported-time", "0"), ("master-link-down-time", "0"),
            ("master-link-status", replica.LinkUp ? "ok" : "err"), ("master-host", primaryHost), ("master-port", primaryPort),
            ("slave-priority", "100"), ("slave-repl-offset", replica.Offset.ToString(CultureInfo.InvariantCulture)), ("replica-announced", "1"),
        ];
    }

    private string DownAfter() => ((long)failover.Value.Window.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);

    private string Info(string section)
    {
        var text = new StringBuilder();
        var all = section is "default" or "all" or "everything";
        if (all || section == "server")
        {
            text.Append("# Server\r\n")
                .Append("redis_version:").Append(SentinelOptions.ReportedVersion).Append("\r\n")
                .Append("redis_mode:sentinel\r\n")
                .Append("run_id:").Append(_myId).Append("\r\n")
                .Append("process_id:").Append(Environment.ProcessId).Append("\r\n")
                .Append("\r\n");
        }

        if (all || section == "clients")
        {
            text.Append("# Clients\r\nconnected_clients:").Append(_clients.Count).Append("\r\n\r\n");
        }

        if (all || section == "sentinel")
        {
            var names = coordinator.Configured.ToList();
            text.Append("# Sentinel\r\n")
                .Append("sentinel_masters:").Append(names.Count).Append("\r\n")
                .Append("sentinel_tilt:0\r\nsentinel_tilt_since_seconds:-1\r\nsentinel_running_scripts:0\r\nsentinel_scripts_queue_length:0\r\nsentinel_simulate_failure_flags:0\r\n");
            for (var i = 0; i < names.Count; i++)
            {
                if (View(names[i]) is not { } view)
                {
                    continue;
                }

                text.Append(CultureInfo.InvariantCulture,
                    $"master{i}:name={view.Name},status={(view.State == Coordination.ResourceState.Confirming ? "odown" : "ok")},address={view.PrimaryAddress ?? "?:0"},slaves={view.Nodes.Count - (view.Primary is null ? 0 : 1)},sentinels={_options.PeerEndpoints().Count + 1}\r\n");
            }
        }

        return text.ToString();
    }

    private static string Unknown(List<string> command)
    {
        var arguments = string.Concat(command.Skip(1).Take(10).Select(a => $"'{Printable(a)}' "));
        return $"ERR unknown command '{Printable(command[0])}', with args beginning with: {arguments}";
    }

    private static string Printable(string text) => RedisFailover.Services.WireLimits.Printable(text, 128);

    private static (string Host, string Port) Split(string address)
    {
        var colon = address.LastIndexOf(':');
        return colon < 0 ? (address, "0") : (address[..colon], address[(colon + 1)..]);
    }

    private sealed record NodeLook(string Name, string Address, bool Connected, long Offset, bool LinkUp, NodeRole Role);

    /// <summary>A follower could not read the store for a resource's primary; its message is the client's error.</summary>
    private sealed class UnreadableStoreException(string message) : Exception(message);

    private sealed record ResourceView(string Name, string? Primary, string? PrimaryAddress, IReadOnlyList<NodeLook> Nodes, int Quorum, int Vantages, Coordination.ResourceState State, long Term);

    private sealed class Client(long id, RespConnection connection, bool authenticated)
    {
        public long Id { get; } = id;

        public RespConnection Connection { get; } = connection;

        public bool Authenticated { get; set; } = authenticated;

        public string? Name { get; set; }

        /// <summary>Events this client's command caused (SENTINEL RESET's <c>+reset-master</c>), sent to subscribers once its reply is flushed.</summary>
        public List<(string Channel, string Message)> Caused { get; } = [];

        // Changed by the client's own loop, read by the publisher: under the lock.
        private readonly HashSet<string> _channels = new(StringComparer.Ordinal);
        private readonly HashSet<string> _patterns = new(StringComparer.Ordinal);

        public int SubscriptionCount
        {
            get
            {
                lock (_channels)
                {
                    return _channels.Count + _patterns.Count;
                }
            }
        }

        /// <summary>Adds or removes one subscription; the count after.</summary>
        public int Change(string channel, bool pattern, bool add)
        {
            lock (_channels)
            {
                var set = pattern ? _patterns : _channels;
                _ = add ? set.Add(channel) : set.Remove(channel);
                return _channels.Count + _patterns.Count;
            }
        }

        public List<string> Subscribed(bool patterns)
        {
            lock (_channels)
            {
                return [.. patterns ? _patterns : _channels];
            }
        }

        public void ClearSubscriptions()
        {
            lock (_channels)
            {
                _channels.Clear();
                _patterns.Clear();
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2080, Level = LogLevel.Information, Message = "Sentinel discovery endpoint listening on {Endpoint}")]
        public static partial void Listening(ILogger logger, string endpoint);

        [LoggerMessage(EventId = 2084, Level = LogLevel.Error, Message = "Sentinel endpoint: a client's connection failed unexpectedly and was closed; the others go on")]
        public static partial void ConnectionFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 2083, Level = LogLevel.Debug, Message = "Sentinel endpoint: a TLS handshake from {Remote} did not complete ({Reason})")]
        public static partial void HandshakeFailed(ILogger logger, string remote, string reason);

        [LoggerMessage(EventId = 2082, Level = LogLevel.Warning, Message = "The Sentinel discovery endpoint is not served: its default address {Endpoint} cannot be listened on ({Reason}). Set Sentinel:Urls to a free address, or to nothing to turn it off")]
        public static partial void DefaultTaken(ILogger logger, string endpoint, string reason);

        [LoggerMessage(EventId = 2081, Level = LogLevel.Information, Message = "{Resource}: +switch-master sent to Sentinel subscribers ({Old} to {New})")]
        public static partial void Switched(ILogger logger, string resource, string old, string @new);
    }
}
