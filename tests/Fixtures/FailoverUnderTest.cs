using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RedisFailover.Coordination;
using RedisFailover.Hosting;
using RedisFailover.Protos;
using RedisAgent.Testing.Hosts;
using RedisFailover.Store;

namespace RedisAgent.Testing;

/// <summary>
/// redis-failover in this process, on a loopback port, with its store in a temporary directory
/// that survives <see cref="RestartAsync"/> (a coordinator restarted mid-incident).
/// </summary>
internal sealed class FailoverUnderTest : IAsyncDisposable
{
    public const string Token = "test-token-0123456789abcdef";

    private readonly Dictionary<string, string?> _settings;
    private readonly TempDirectory _store = new("failover");
    private WebApplication? _host;
    private int _port;

    private FailoverUnderTest(Dictionary<string, string?> settings)
    {
        _settings = settings;
        Logs = new CapturedLogs();
    }

    public CapturedLogs Logs { get; private set; }

    /// <summary>https:// when the settings give the coordinator a certificate.</summary>
    public string Url => $"{Scheme}://127.0.0.1:{_port}";

    private string Scheme => _settings.TryGetValue("Failover:Tls:CertFile", out var certificate) && certificate is not null ? "https" : "http";

    public string StoreDirectory => _store.Path;

    public string UrlFile => _store.File("redis-url.env");

    public Coordinator Coordinator => _host!.Services.GetRequiredService<Coordinator>();

    public FileStore Store => _host!.Services.GetRequiredService<FileStore>();

    public IServiceProvider Services => _host!.Services;

    /// <summary>Calls refused since the start (unauthenticated, not permitted, malformed).</summary>
    public long Refusals => _host!.Services.GetRequiredService<RedisFailover.Services.RefusalLog>().Total;

    /// <summary>Starts a coordinator for one resource whose nodes are <paramref name="nodes"/> (name, host:port).</summary>
    public static async Task<FailoverUnderTest> StartAsync(string resource, IReadOnlyList<(string Name, string Address)> nodes, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var merged = new Dictionary<string, string?>
        {
            ["Failover:Token"] = Token,
            ["Failover:Window"] = "00:00:05",
            ["Failover:RoundInterval"] = "00:00:01",
            ["Resources:0:Name"] = resource,
        };
        for (var i = 0; i < nodes.Count; i++)
        {
            merged[$"Resources:0:Nodes:{i}:Name"] = nodes[i].Name;
            merged[$"Resources:0:Nodes:{i}:Address"] = nodes[i].Address;
            merged[$"Resources:0:Nodes:{i}:Zone"] = "zone-" + (i + 1);
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            merged[key] = value;
        }

        var coordinator = new FailoverUnderTest(merged);
        merged["Failover:StoreDirectory"] = coordinator.StoreDirectory;
        merged.TryAdd("Resources:0:UrlFile", coordinator.UrlFile);
        await coordinator.LaunchAsync(port: 0).ConfigureAwait(false);
        return coordinator;
    }

    /// <summary>Stops the coordinator, runs <paramref name="whileDown"/> if given, and starts it again on the same port with the same store.</summary>
    public async Task RestartAsync(Func<Task>? whileDown = null)
    {
        await StopAsync().ConfigureAwait(false);
        if (whileDown is not null)
        {
            await whileDown().ConfigureAwait(false);
        }

        await LaunchAsync(_port).ConfigureAwait(false);
    }

    public Admin.AdminClient Admin(GrpcChannel channel) => new(channel);

    /// <summary>
    /// Settings for the agent of <paramref name="host"/> in a resource of <paramref name="hosts"/>:
    /// its own host over SSH, the others as peers, this coordinator, and the command driver (the
    /// host's redis-server is a daemon, started again as one) unless <paramref name="restarts"/> is false.
    /// </summary>
    public Dictionary<string, string?> AgentSettings(TestHost host, IReadOnlyList<TestHost> hosts, string keyFile, string resource, bool restarts = true) =>
        AgentSettingsFor(Url, host, hosts, keyFile, resource, restarts);

    /// <summary>The same settings for an agent of the coordinator(s) at <paramref name="coordinatorUrls"/> (several: comma-separated).</summary>
    public static Dictionary<string, string?> AgentSettingsFor(string coordinatorUrls, TestHost host, IReadOnlyList<TestHost> hosts, string keyFile, string resource, bool restarts = true)
    {
        var settings = new Dictionary<string, string?>(host.SshSettings("Ssh", keyFile))
        {
            ["Redis:Url"] = host.Redis.Url,
            ["Restart:Driver"] = restarts ? "command" : "none",
            ["Restart:Command"] = restarts ? host.Redis.FenceableDaemonCommand : null,
            ["Agent:NodeName"] = host.Name,
            ["Coordinator:Url"] = coordinatorUrls,
            ["Coordinator:Token"] = Token,
            ["Coordinator:Resource"] = resource,
            ["Coordinator:ReportInterval"] = "00:00:00.250",
        };
        var peers = hosts.Where(h => h != host).ToList();
        for (var i = 0; i < peers.Count; i++)
        {
            settings[$"Peers:{i}:Name"] = peers[i].Name;
            settings[$"Peers:{i}:Url"] = peers[i].Redis.Url;
            foreach (var (key, value) in peers[i].SshSettings($"Peers:{i}:Ssh", keyFile))
            {
                settings[key] = value;
            }
        }

        // sshd spends ~85 ms of CPU per probe here: nine host loops at the fixture's 200 ms would
        // saturate both cores. Once a second is enough, since a silent port wakes the host probe.
        foreach (var key in settings.Keys.Where(k => k.EndsWith("Ssh:Interval", StringComparison.Ordinal)).ToList())
        {
            settings[key] = "00:00:01";
        }

        return settings;
    }

    public Metadata Headers { get; } = new() { { "authorization", "Bearer " + Token } };

    public string Describe()
    {
        var resource = Coordinator.Resources.Single();
        return resource.Read(ResourceCoordinator.Describe) + "\nJournal:\n" +
            string.Join('\n', Store.Journal(resource.Name).Select(r => $"{r.At:HH:mm:ss.fff} t{r.Term} {r.Kind}: {r.Text}")) + "\nLog:\n" + Logs.Text;
    }

    private async Task LaunchAsync(int port)
    {
        var builder = FailoverHost.CreateBuilder([]);
        // Many coordinators run at once here: none takes Sentinel's default port unless a test asks for an endpoint.
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Sentinel:Urls"] = "" });
        builder.Configuration.AddInMemoryCollection(_settings);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Urls"] = $"{Scheme}://127.0.0.1:{port}" });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        Logs = new CapturedLogs();
        builder.Logging.AddProvider(Logs);
        _host = FailoverHost.Build(builder);
        await _host.StartAsync().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        // With Failover:MetricsUrl set, the metrics endpoint is an address too: the agents' is the other one.
        var address = _host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .First(a => !_settings.TryGetValue("Failover:MetricsUrl", out var metrics) || metrics is null || new Uri(a).Port != new Uri(metrics).Port);
        _port = new Uri(address).Port;
    }

    private async Task StopAsync()
    {
        if (_host is not null)
        {
            using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            {
                await _host.StopAsync(timeout.Token).ConfigureAwait(false);
            }

            await _host.DisposeAsync().ConfigureAwait(false);
            _host = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _store.Dispose();
        Logs.ThrowIfUnexpected("the coordinator");
    }
}
