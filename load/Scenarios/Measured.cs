using System.Globalization;
using RedisAgent.Testing;
using static RedisAgent.Load.LoadProcesses;

namespace RedisAgent.Load.Scenarios;

/// <summary>A process under load, measured: its CPU over the run (in % of one core) and its memory.</summary>
internal sealed class Measured(int pid)
{
    private long _cpuMs = CpuMs(pid);
    private DateTimeOffset _since = DateTimeOffset.UtcNow;
    private TimeSpan _paused = GC.GetTotalPauseDuration();
    private int[] _collections = Collections();

    public int Pid { get; } = pid;

    /// <summary>Starts the measurement over (after a warm-up).</summary>
    public void Reset()
    {
        _cpuMs = CpuMs(Pid);
        _since = DateTimeOffset.UtcNow;
        _paused = GC.GetTotalPauseDuration();
        _collections = Collections();
    }

    /// <summary>Writes CPU (% of one core since the last reset), RSS and peak RSS as figures of <paramref name="context"/>.</summary>
    public void Report(Harness.ScenarioContext context, string who)
    {
        var seconds = (DateTimeOffset.UtcNow - _since).TotalSeconds;
        var cpu = (CpuMs(Pid) - _cpuMs) / 10.0 / seconds;
        context.Figure($"{who} CPU", string.Create(CultureInfo.InvariantCulture, $"{cpu:0.#}% of one core over {seconds:0.#} s"));
        context.Figure($"{who} RSS", string.Create(CultureInfo.InvariantCulture, $"{RssKb(Pid) / 1024.0:0.#} MB (peak {PeakRssKb(Pid) / 1024.0:0.#} MB)"));
        if (Pid == Environment.ProcessId)
        {
            // This process's collections: a pause stops the pacing too, and is charged to every step due meanwhile.
            var now = Collections();
            context.Figure($"{who} GC", string.Create(CultureInfo.InvariantCulture,
                $"{now[0] - _collections[0]} gen0, {now[1] - _collections[1]} gen1, {now[2] - _collections[2]} gen2 collections; {(GC.GetTotalPauseDuration() - _paused).TotalMilliseconds:0} ms paused"));
        }
    }

    private static int[] Collections() => [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
}

/// <summary>An agent process beside a redis-server, both started for one scenario.</summary>
internal sealed class AgentBeside : IAsyncDisposable
{
    private AgentBeside(RedisServer redis, AgentProcess agent, int port, TempDirectory state)
    {
        Redis = redis;
        Agent = agent;
        Port = port;
        State = state;
        Measured = new Measured(agent.ProcessId);
    }

    public RedisServer Redis { get; }

    public AgentProcess Agent { get; }

    public int Port { get; }

    public TempDirectory State { get; }

    public Measured Measured { get; }

    public Uri Url(string path) => new($"http://127.0.0.1:{Port}{path}");

    public static async Task<AgentBeside> StartAsync(string binary, IReadOnlyDictionary<string, string>? extra = null)
    {
        var redis = await RedisServer.StartAsync().ConfigureAwait(false);
        var state = new TempDirectory("load-agent");
        var port = LoopbackPorts.Free();
        var environment = new Dictionary<string, string>
        {
            ["REDIS_URL"] = redis.Url,
            ["Restart__Driver"] = "none",
            ["Urls"] = $"http://127.0.0.1:{port}",
            ["Agent__StateDirectory"] = state.Path,
            ["Logging__LogLevel__Default"] = "Warning",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        var agent = AgentProcess.StartBinary(binary, environment);
        var beside = new AgentBeside(redis, agent, port, state);
        try
        {
            await beside.WaitUntilServingAsync().ConfigureAwait(false);
            return beside;
        }
        catch
        {
            // An agent that never came up is stopped with its Redis, not left behind.
            await beside.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task WaitUntilServingAsync()
    {
        var beside = this;
        var agent = Agent;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Poll.UntilAsync(
            async () =>
            {
                try
                {
                    return (await http.GetStringAsync(beside.Url("/metrics")).ConfigureAwait(false)).Contains("\nredis_up 1", StringComparison.Ordinal);
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(60),
            () => "the agent serves redis_up 1\n" + agent.Output).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await Agent.DisposeAsync().ConfigureAwait(false);
        await Redis.DisposeAsync().ConfigureAwait(false);
        State.Dispose();
    }
}
