using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Grpc.Core;
using Grpc.Net.Client;
using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;
using RedisFailover.Protos;

namespace RedisAgent.Demo;

/// <summary>
/// Resource "demo": three hosts on loopback aliases, each with sshd, redis-server (AOF on) and a
/// redis-agent process; host-1 the primary, host-2 and host-3 its replicas; one redis-failover
/// process over them. Everything it starts it stops on dispose, by pid, and every iptables rule it
/// adds it removes.
/// </summary>
internal sealed class DemoResource(DemoOptions options, DemoConsole console) : IAsyncDisposable
{
    private const string Resource = "demo";
    private readonly List<TestHost> _hosts = [];
    private readonly Dictionary<string, AgentProcess> _agents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _agentPorts = new(StringComparer.Ordinal);
    private readonly TempDirectory _directory = new("demo");
    private readonly string _token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
    private SshKeys? _keys;
    private AgentProcess? _coordinator;
    private int _coordinatorPort;
    private int _sentinelPort;
    private int _dashboardPort;
    private GrpcChannel? _channel;
    private Partition? _lost;
    private string? _lostHost;
    private Task _watcher = Task.CompletedTask;
    private CancellationTokenSource? _watching;

    private string TokenFile => _directory.File("failover-token");

    private string UrlFile => _directory.File("redis-url.env");

    private static string Bin(string name) => Binaries.Path(name);

    private Metadata Headers => new() { { "authorization", "Bearer " + _token } };

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // A demo killed with SIGKILL cannot clean up: its rules (tagged) are swept before starting again.
        Partition.SweepLeftovers();
        await File.WriteAllTextAsync(TokenFile, _token, cancellationToken).ConfigureAwait(false);
        File.SetUnixFileMode(TokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _keys = new SshKeys();

        console.Say($"starting resource \"{Resource}\": three hosts on 127.0.0.{options.FirstAddress}-{options.FirstAddress + 2}, a coordinator with a {options.Window.TotalSeconds:0} s window");
        for (var i = 0; i < 3; i++)
        {
            var host = await TestHost.StartAsync(
                $"host-{i + 1}",
                $"127.0.0.{options.FirstAddress + i}",
                _keys,
                // Its own processes reach Redis over 127.0.0.1, which no partition of the host's address cuts.
                alsoLoopback: true,
                // A primary with replicas must persist, or its agent refuses to restart it empty.
                arguments: ["--appendonly", "yes"]).ConfigureAwait(false);
            _hosts.Add(host);
            host.Redis.Track(await Resp.ProcessIdAsync("127.0.0.1", host.Redis.Port).ConfigureAwait(false));
            console.Say($"{host.Name}: sshd on {host.Address}:{host.Ssh.Port}, redis-server on {host.Address}:{host.Redis.Port}");
        }

        foreach (var replica in _hosts.Skip(1))
        {
            await Resp.CommandAsync(replica.Address, replica.Redis.Port, "REPLICAOF", _hosts[0].Address, Port(_hosts[0])).ConfigureAwait(false);
        }

        _coordinatorPort = LoopbackPorts.Free();
        _sentinelPort = LoopbackPorts.Free();
        _dashboardPort = LoopbackPorts.Free();
        _coordinator = AgentProcess.StartBinary(Bin("redis-failover"), CoordinatorEnvironment(), line => console.Child("coordinator", line));
        _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{_coordinatorPort}");
        foreach (var host in _hosts)
        {
            _agentPorts[host.Name] = LoopbackPorts.Free();
            var name = host.Name;
            _agents[name] = AgentProcess.StartBinary(Bin("redis-agent"), AgentEnvironment(host), line => console.Child(name, line));
        }

        await Poll.UntilAsync(
            async () => await StatusAsync().ConfigureAwait(false) is { State: ResourceState.Healthy, Primary: "host-1" } s && s.Nodes.All(n => n.Connected),
            TimeSpan.FromSeconds(90),
            () => "the coordinator did not see resource demo Healthy with its three agents within 90 s").WaitAsync(cancellationToken).ConfigureAwait(false);

        _watching = new CancellationTokenSource();
        _watcher = Task.WhenAll([WatchAsync(_watching.Token), .. _hosts.Select(h => TailAsync(h.Name, _watching.Token))]);
        console.Block(Banner());
        console.Say("ready");
    }

    /// <summary>Reads one-letter commands until q, the end of input followed by a signal, or cancellation.</summary>
    public async Task RunAsync(TextReader input, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            // Console.In ignores the token once a read is blocked: the read runs aside, and Ctrl-C wins the race.
            var read = Task.Run(input.ReadLine, CancellationToken.None);
            await Task.WhenAny(read, Task.Delay(Timeout.Infinite, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            var line = await read.ConfigureAwait(false);
            if (line is null)
            {
                // No more input (run in the background): keep running until Ctrl-C or SIGTERM.
                await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
                return;
            }

            switch (line.Trim().ToLowerInvariant())
            {
                case "k":
                    await KillPrimaryProcessAsync().ConfigureAwait(false);
                    break;
                case "l":
                    await LosePrimaryHostAsync().ConfigureAwait(false);
                    break;
                case "r":
                    Restore();
                    break;
                case "s":
                    console.Block(await DescribeAsync().ConfigureAwait(false));
                    break;
                case "q":
                    return;
                case "":
                    break;
                default:
                    console.Block(Help);
                    break;
            }
        }
    }

    private async Task KillPrimaryProcessAsync()
    {
        var host = await PrimaryHostAsync().ConfigureAwait(false);
        if (host is null)
        {
            return;
        }

        int pid;
        try
        {
            pid = await Resp.ProcessIdAsync("127.0.0.1", host.Redis.Port).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or InvalidDataException)
        {
            console.Say($"{host.Name}'s redis-server does not answer right now ({ex.Message}); try again in a moment");
            return;
        }

        host.Redis.Track(pid);
        Signals.Send(pid, Signals.SigKill);
        console.Say($"kill -9 {pid}: {host.Name}'s redis-server (the primary) is dead, its host is fine. Watch its agent restart it; the coordinator does not fail over.");
    }

    private async Task LosePrimaryHostAsync()
    {
        if (_lost is not null)
        {
            console.Say($"{_lostHost} is already cut off; 'r' brings it back");
            return;
        }

        var host = await PrimaryHostAsync().ConfigureAwait(false);
        if (host is null)
        {
            return;
        }

        if (await StatusAsync().ConfigureAwait(false) is { State: not ResourceState.Healthy } status)
        {
            console.Say($"note: the resource is {status.State} ({status.Reason}). The coordinator fails over only from Healthy, with a standby in sync: watch it refuse, and say why in its journal.");
        }

        _lost = Partition.Isolate(host.Address);
        _lostHost = host.Name;
        console.Say($"iptables: everything to and from {host.Address} DROPped. {host.Name} (the primary) is lost, its agent cut off with it. " +
                    $"Watch: the other agents report it silent, the coordinator confirms over {options.Window.TotalSeconds:0} s, promotes the standby, rebuilds the spare. " +
                    $"{host.Name}'s agent fences its Redis meanwhile. 'r' brings the host back.");
    }

    private void Restore()
    {
        if (_lost is null)
        {
            console.Say("no host is cut off");
            return;
        }

        _lost.Dispose();
        _lost = null;
        console.Say($"iptables rules removed: {_lostHost} is back. Watch the coordinator make it a replica of the new primary.");
        _lostHost = null;
    }

    private async Task<TestHost?> PrimaryHostAsync()
    {
        var status = await StatusAsync().ConfigureAwait(false);
        var host = _hosts.FirstOrDefault(h => h.Name == status?.Primary);
        if (host is null)
        {
            console.Say("the coordinator does not know a primary right now; try again in a moment");
        }

        return host;
    }

    private async Task<ResourceStatus?> StatusAsync()
    {
        try
        {
            return await new Admin.AdminClient(_channel).GetStatusAsync(new ResourceRequest { Resource = Resource }, Headers, deadline: DateTime.UtcNow.AddSeconds(2)).ConfigureAwait(false);
        }
        catch (RpcException)
        {
            return null;
        }
    }

    /// <summary>Says every change of the resource's state, term or primary.</summary>
    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        string? last = null;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                if (await StatusAsync().ConfigureAwait(false) is not { } status)
                {
                    continue;
                }

                var now = string.Create(CultureInfo.InvariantCulture, $"resource {status.Resource}: {status.State}, term {status.Term}, primary {status.Primary} ({status.PrimaryAddress}){(status.Reason.Length > 0 ? "; " + status.Reason : "")}");
                if (now != last)
                {
                    console.Say(now);
                    last = now;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Prints the node's <c>redis[demo]</c> lines as they come, through its agent's live tail
    /// (what <c>redis-agent logs -t -s redis</c> shows), redialled while the agent runs.
    /// </summary>
    private async Task TailAsync(string node, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var url = new Uri($"http://127.0.0.1:{_agentPorts[node]}/logs?tail=true&source=redis&num=0");
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
                while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
                {
                    console.Child(node + " tail", line);
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
            {
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<string> DescribeAsync()
    {
        if (await StatusAsync().ConfigureAwait(false) is not { } status)
        {
            return "the coordinator does not answer";
        }

        var lines = new List<string> { string.Create(CultureInfo.InvariantCulture, $"{status.Resource}: {status.State}, term {status.Term}, primary {status.Primary} ({status.PrimaryAddress})") };
        lines.AddRange(status.Nodes.Select(n => string.Create(CultureInfo.InvariantCulture,
            $"  {n.Node,-8} {n.Address,-18} {n.Role,-7} offset {n.ReplicationOffset,-10} {(n.Connected ? "agent connected" : "agent NOT connected")}, {n.LocalVerdict}")));
        return string.Join('\n', lines);
    }

    private Dictionary<string, string> CoordinatorEnvironment()
    {
        var environment = new Dictionary<string, string>
        {
            ["Urls"] = $"http://127.0.0.1:{_coordinatorPort}",
            ["Failover__Token"] = _token,
            ["Failover__Window"] = options.Window.ToString("c", CultureInfo.InvariantCulture),
            ["Failover__RoundInterval"] = "00:00:01",
            ["Failover__StoreDirectory"] = _directory.File("failover"),
            ["Resources__0__Name"] = Resource,
            ["Resources__0__Timeout"] = "300",
            ["Resources__0__MaxmemoryPolicy"] = "allkeys-lru",
            ["Resources__0__UrlFile"] = UrlFile,
            // A free port rather than Sentinel's 26379, which a real Sentinel on this machine may hold.
            ["Sentinel__Urls"] = $"127.0.0.1:{_sentinelPort}",
            ["Failover__DashboardUrl"] = $"http://127.0.0.1:{_dashboardPort}",
            ["Failover__DashboardResolution"] = "00:00:05",
        };
        for (var i = 0; i < _hosts.Count; i++)
        {
            environment[$"Resources__0__Nodes__{i}__Name"] = _hosts[i].Name;
            environment[$"Resources__0__Nodes__{i}__Address"] = $"{_hosts[i].Address}:{Port(_hosts[i])}";
            environment[$"Resources__0__Nodes__{i}__Zone"] = "zone-" + (i + 1).ToString(CultureInfo.InvariantCulture);
        }

        return environment;
    }

    private Dictionary<string, string> AgentEnvironment(TestHost host)
    {
        var settings = new Dictionary<string, string?>(host.SshSettings("Ssh", _keys!.ClientKey))
        {
            ["Urls"] = $"http://127.0.0.1:{_agentPorts[host.Name]}",
            // The node's own Redis over loopback; everything else (peers, SSH, coordinator) leaves from the host's address.
            ["Redis:Url"] = $"redis://127.0.0.1:{Port(host)}",
            ["Agent:NodeName"] = host.Name,
            ["Agent:SourceAddress"] = host.Address,
            ["Agent:StateDirectory"] = _directory.File("agent-" + host.Name),
            ["Restart:Driver"] = "command",
            ["Restart:Command"] = host.Redis.DaemonCommand,
            ["Probe:Interval"] = "00:00:00.500",
            ["Logs:File"] = host.Redis.LogFile,
            ["Logs:Resource"] = Resource,
            ["Coordinator:Url"] = $"http://127.0.0.1:{_coordinatorPort}",
            ["Coordinator:Token"] = _token,
            ["Coordinator:Resource"] = Resource,
            ["Coordinator:Zone"] = "zone-" + host.Name[^1],
            ["Coordinator:SelfFenceAfter"] = "00:00:02",
        };
        var peers = _hosts.Where(h => h != host).ToList();
        for (var i = 0; i < peers.Count; i++)
        {
            settings[$"Peers:{i}:Name"] = peers[i].Name;
            settings[$"Peers:{i}:Url"] = peers[i].Redis.Url;
            foreach (var (key, value) in peers[i].SshSettings($"Peers:{i}:Ssh", _keys.ClientKey))
            {
                settings[key] = value;
            }
        }

        // A silent port wakes the host probe at once; between faults, once a second is plenty.
        foreach (var key in settings.Keys.Where(k => k.EndsWith("Ssh:Interval", StringComparison.Ordinal)).ToList())
        {
            settings[key] = "00:00:01";
        }

        return settings.Where(s => s.Value is not null).ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value!);
    }

    private string Banner()
    {
        var agent = Bin("redis-agent");
        var failover = Bin("redis-failover");
        var lines = new List<string>
        {
            "",
            $"Resource \"{Resource}\" is up: host-1 is the primary, host-2 the standby, host-3 the spare.",
            "",
        };
        foreach (var host in _hosts)
        {
            lines.Add($"  {host.Name}  redis {host.Address}:{Port(host)}  sshd {host.Address}:{host.Ssh.Port}  agent http://127.0.0.1:{_agentPorts[host.Name]}");
        }

        var first = _agentPorts["host-1"];
        lines.AddRange(
        [
            $"  coordinator  http://127.0.0.1:{_coordinatorPort} (window {options.Window.TotalSeconds:0} s); the primary's REDIS_URL is published in {UrlFile}",
            "",
            "Watch it from another terminal:",
            $"  dashboard  http://127.0.0.1:{_dashboardPort}/#token=$(cat {TokenFile})      (a browser on this machine; the token is read and removed from the address)",
            $"  sentinel   redis-cli -p {_sentinelPort} SENTINEL get-master-addr-by-name {Resource}      (any Redis client's Sentinel support, master name \"{Resource}\")",
            $"  metrics    curl -s http://127.0.0.1:{first}/metrics | grep -E '^redis_(up|connected_clients|memory_used_bytes) '",
            $"  live tail  {agent} logs -t --url http://127.0.0.1:{first}      (heroku logs -s redis -t)",
            $"  admin CLI  FAILOVER_TOKEN=$(cat {TokenFile}) {failover} status -r {Resource} --url http://127.0.0.1:{_coordinatorPort}",
            $"             FAILOVER_TOKEN=$(cat {TokenFile}) {failover} history -r {Resource} --url http://127.0.0.1:{_coordinatorPort}",
            "",
            Help,
        ]);
        return string.Join('\n', lines);
    }

    private const string Help = """
        Try a fault (type a letter, then Enter):
          k  kill -9 the primary's redis-server: its agent restarts it, and nothing fails over
          l  lose the primary's host (iptables DROP on its address, its agent cut off with it):
             confirmed over the window, the standby promoted, the spare rebuilt
          r  bring the lost host back: the old primary comes back as a replica
          s  status    q  quit (or Ctrl-C): everything the demo started is stopped
        """;

    public async ValueTask DisposeAsync()
    {
        if (_watching is not null)
        {
            await _watching.CancelAsync().ConfigureAwait(false);
            await _watcher.ConfigureAwait(false);
            _watching.Dispose();
        }

        var pids = _agents.Values.Select(a => a.ProcessId).Concat(_coordinator is null ? [] : [_coordinator.ProcessId])
            .Concat(_hosts.Select(h => h.Ssh.ProcessId).OfType<int>())
            .Concat(_hosts.Select(h => ReadPid(h.Redis.PidFile)).OfType<int>())
            .ToList();
        console.Say("stopping pids " + string.Join(' ', pids.Select(p => p.ToString(CultureInfo.InvariantCulture))));

        // The agents first, so that none restarts a Redis being stopped; then the coordinator.
        await Task.WhenAll(_agents.Values.Select(a => a.DisposeAsync().AsTask())).ConfigureAwait(false);

        if (_coordinator is not null)
        {
            await _coordinator.DisposeAsync().ConfigureAwait(false);
        }

        _lost?.Dispose();
        _channel?.Dispose();
        foreach (var host in _hosts)
        {
            await host.DisposeAsync().ConfigureAwait(false);
        }

        _keys?.Dispose();
        _directory.Dispose();
        console.Say($"stopped: {pids.Count} processes; iptables rules of the demo left: {TaggedRules()}");
    }

    private static int? ReadPid(string file) =>
        File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), CultureInfo.InvariantCulture, out var pid) ? pid : null;

    private static int TaggedRules()
    {
        using var process = Process.Start(new ProcessStartInfo("iptables", ["-w", "5", "-S"]) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var listing = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return listing.Split('\n').Count(l => l.Contains(Partition.Tag, StringComparison.Ordinal));
    }

    private static string Port(TestHost host) => host.Redis.Port.ToString(CultureInfo.InvariantCulture);
}
