using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RedisAgent.Hosting;
using RedisAgent.Node;
using RedisAgent.Supervision;

namespace RedisAgent.Testing;

/// <summary>
/// A whole agent, built exactly as <c>redis-agent</c> builds itself, running in the test
/// process with fast test timings, its logs captured and its state readable.
/// </summary>
internal sealed class AgentUnderTest : IAsyncDisposable
{
    /// <summary>Settings that make a test agent quick to decide; a test overrides what it is about.</summary>
    public static IReadOnlyDictionary<string, string?> FastSettings { get; } = new Dictionary<string, string?>
    {
        ["Probe:Interval"] = "00:00:00.100",
        ["Probe:RetryInterval"] = "00:00:00.050",
        ["Probe:Timeout"] = "00:00:00.500",
        ["Verdict:FailuresToDown"] = "3",
        ["Verdict:SuccessesToUp"] = "2",
        ["Verdict:HangThreshold"] = "00:00:01",
        ["Restart:StartTimeout"] = "00:00:10",
        ["Restart:InitialBackoff"] = "00:00:00.050",
        ["Restart:MaxBackoff"] = "00:00:00.500",
        ["Restart:StablePeriod"] = "00:00:05",
        ["Sampling:Interval"] = "00:00:00.100",
        ["Exec:StopTimeout"] = "00:00:05",
        // Any free port: tests run many agents at once.
        ["Urls"] = "http://127.0.0.1:0",
    };

    private readonly WebApplication _host;
    private readonly TempDirectory _state;
    private readonly HashSet<int> _execPids = [];
    private bool _started = true;

    private AgentUnderTest(WebApplication host, TempDirectory state, CapturedLogs logs)
    {
        _host = host;
        _state = state;
        Logs = logs;
    }

    public CapturedLogs Logs { get; }

    public NodeStatus Status => _host.Services.GetRequiredService<NodeStatus>();

    public NodeSnapshot Snapshot => Status.Snapshot;

    /// <summary>What the agent sees of every target, its own node and its peers.</summary>
    public ObservationBook Book => _host.Services.GetRequiredService<ObservationBook>();

    /// <summary>Where the agent's HTTP endpoints answer.</summary>
    public Uri HttpAddress => new(_host.Urls.First());

    /// <summary>The resource's log stream (Redis's lines and the agent's).</summary>
    public Logs.LogBus LogBus => _host.Services.GetRequiredService<Logs.LogBus>();

    public string StateDirectory => _state.Path;

    public Sampling.SampleBook Samples => _host.Services.GetRequiredService<Sampling.SampleBook>();

    public Supervision.RestartLease Lease => _host.Services.GetRequiredService<Supervision.RestartLease>();

    public Coordination.TermStore Terms => _host.Services.GetRequiredService<Coordination.TermStore>();

    /// <summary>GET a path of the agent's HTTP endpoint (e.g. <c>/metrics</c>), with its status code.</summary>
    public async Task<(System.Net.HttpStatusCode Status, string Body)> GetAsync(string path)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.GetAsync(new Uri(HttpAddress, path)).ConfigureAwait(false);
        return (response.StatusCode, await response.Content.ReadAsStringAsync().ConfigureAwait(false));
    }

    /// <summary>The agent's metrics as series → value.</summary>
    public async Task<IReadOnlyDictionary<string, double>> ScrapeAsync() => PromText.Parse((await GetAsync("/metrics").ConfigureAwait(false)).Body);

    /// <summary>The exec driver's current child, if the agent uses that driver and the child runs.</summary>
    public int? ExecProcessId
    {
        get
        {
            var pid = (_host.Services.GetRequiredService<IRestartDriver>() as ExecDriver)?.ProcessId;
            if (pid is { } p)
            {
                lock (_execPids)
                {
                    _execPids.Add(p);
                }
            }

            return pid;
        }
    }

    /// <summary>Builds and starts an agent; <paramref name="settings"/> override <see cref="FastSettings"/>.</summary>
    public static async Task<AgentUnderTest> StartAsync(IReadOnlyDictionary<string, string?> settings)
    {
        var state = new TempDirectory("agent");
        var logs = new CapturedLogs();
        var merged = new Dictionary<string, string?>(FastSettings) { ["Agent:StateDirectory"] = state.Path };
        foreach (var (key, value) in settings)
        {
            merged[key] = value;
        }

        // A REDIS_URL in the developer's environment must not leak into a test.
        merged.TryAdd("REDIS_URL", null);

        var builder = AgentHost.CreateBuilder([]);
        builder.Configuration.AddInMemoryCollection(merged);
        // Quiet the console, keep the agent's own providers (the log stream is one of them).
        foreach (var console in builder.Services.Where(d => d.ServiceType == typeof(ILoggerProvider)
                     && d.ImplementationType?.Namespace?.StartsWith("Microsoft.Extensions.Logging", StringComparison.Ordinal) == true).ToList())
        {
            builder.Services.Remove(console);
        }

        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddProvider(logs);
        var host = AgentHost.Build(builder);
        var agent = new AgentUnderTest(host, state, logs);
        try
        {
            await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }
        catch
        {
            // A host that did not start cannot be stopped (StopAsync would throw and hide this exception).
            agent._started = false;
            await agent.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        _ = agent.ExecProcessId;
        return agent;
    }

    /// <summary>The Redis port, when the agent was started with <see cref="StartOwningRedisAsync"/>.</summary>
    public int Port { get; private set; }

    /// <summary>
    /// An agent that runs its own redis-server (exec driver) on a free loopback port, started and
    /// seen healthy. <paramref name="settings"/> add to or override that.
    /// </summary>
    public static async Task<AgentUnderTest> StartOwningRedisAsync(IReadOnlyDictionary<string, string?>? settings = null, string? password = null, string scheme = "redis")
    {
        var port = LoopbackPorts.Free();
        var merged = new Dictionary<string, string?>
        {
            ["Redis:Url"] = password is null ? $"{scheme}://127.0.0.1:{port}" : $"{scheme}://:{password}@127.0.0.1:{port}",
            ["Restart:Driver"] = "exec",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            merged[key] = value;
        }

        var agent = await StartAsync(merged).ConfigureAwait(false);
        agent.Port = port;
        try
        {
            await agent.WaitForAsync(s => s.Verdict == Node.NodeVerdict.Healthy, TimeSpan.FromSeconds(20), "its own redis-server answers").ConfigureAwait(false);
        }
        catch
        {
            await agent.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return agent;
    }

    /// <summary>Waits until the agent's view of its node satisfies <paramref name="condition"/>.</summary>
    public Task WaitForAsync(Func<NodeSnapshot, bool> condition, TimeSpan timeout, string what) =>
        Poll.UntilAsync(() => condition(Snapshot), timeout, () => $"{what}\nSnapshot: {Describe(Snapshot)}\nAgent log:\n{Logs.Text}");

    /// <summary>Waits until the agent's view of target <paramref name="name"/> satisfies <paramref name="condition"/>.</summary>
    public Task WaitForTargetAsync(string name, Func<TargetObservation, bool> condition, TimeSpan timeout, string what) =>
        Poll.UntilAsync(
            () => Book[name] is { } t && condition(t),
            timeout,
            () => $"{name}: {what}\nTarget: {(Book[name] is { } t ? Describe(t) : "not registered")}\nAgent log:\n{Logs.Text}");

    public static string Describe(TargetObservation t) => string.Create(CultureInfo.InvariantCulture,
        $"verdict={t.Verdict} host={t.HostVerdict} lastPort={t.LastPort?.Outcome} lastHost={t.LastHost?.Outcome} ({t.LastHost?.Detail}) " +
        $"ports={string.Join(',', t.PortOutcomes.Select(p => $"{p.Key}:{p.Value}"))} hosts={string.Join(',', t.HostOutcomes.Select(p => $"{p.Key}:{p.Value}"))}");

    public static string Describe(NodeSnapshot s) => string.Create(CultureInfo.InvariantCulture,
        $"verdict={s.Verdict} phase={s.Phase} probes={s.Probes} last={s.LastProbe?.Outcome} restarts={s.Restarts} " +
        $"refused={s.RestartsRefused} needsFailover={s.NeedsFailover ?? "-"} lastExit={s.LastExit} role={s.Facts?.Role} replicas={s.Facts?.ConnectedReplicas}");

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_started)
            {
                await _host.StopAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false);
            }
        }
        finally
        {
            await _host.DisposeAsync().ConfigureAwait(false);
            int[] pids;
            lock (_execPids)
            {
                pids = [.. _execPids];
            }

            foreach (var pid in pids)
            {
                Signals.Send(pid, Signals.SigKill);
                Signals.Send(pid, Signals.SigCont);
            }

            _state.Dispose();
        }

        Logs.ThrowIfUnexpected("the agent");
    }
}
