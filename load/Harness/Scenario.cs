using System.Collections.Concurrent;

namespace RedisAgent.Load.Harness;

/// <summary>What one step returned: ok or failed (with why), and optionally how many bytes it moved.</summary>
public readonly record struct Response(bool IsOk, string? Error = null, long Bytes = 0)
{
    public static Response Ok(long bytes = 0) => new(true, null, bytes);

    public static Response Fail(string error) => new(false, error);
}

/// <summary>How a scenario's steps are started.</summary>
public abstract record LoadSimulation(TimeSpan During)
{
    /// <summary>NBomber's Inject: <paramref name="Rate"/> steps per second, evenly spaced, whatever the latency (open model).</summary>
    public sealed record Inject(int Rate, TimeSpan During) : LoadSimulation(During)
    {
        public override string ToString() => $"inject {Rate}/s for {During.TotalSeconds:0} s";
    }

    /// <summary>NBomber's RampingInject: the rate moves linearly from <paramref name="From"/> to <paramref name="To"/> per second.</summary>
    public sealed record RampingInject(int From, int To, TimeSpan During) : LoadSimulation(During)
    {
        public override string ToString() => $"ramp {From}/s to {To}/s over {During.TotalSeconds:0} s";
    }

    /// <summary>NBomber's KeepConstant: <paramref name="Copies"/> loops, each starting its next step when the last ends (closed model).</summary>
    public sealed record KeepConstant(int Copies, TimeSpan During) : LoadSimulation(During)
    {
        public override string ToString() => $"{Copies} copies for {During.TotalSeconds:0} s";
    }
}

/// <summary>What a step, an init and a clean see: the scenario's state, its custom figures, the cancellation.</summary>
public sealed class ScenarioContext(string name, CancellationToken cancellationToken)
{
    private long _invocations;

    public string ScenarioName { get; } = name;

    public CancellationToken CancellationToken { get; } = cancellationToken;

    /// <summary>State the init leaves for the steps and the clean (servers, clients).</summary>
    public ConcurrentDictionary<string, object> Items { get; } = new(StringComparer.Ordinal);

    /// <summary>Figures of the scenario's own (CPU, RSS, counts), written into the report in this order.</summary>
    public List<KeyValuePair<string, string>> Figures { get; } = [];

    /// <summary>The step's number, from 0.</summary>
    public long NextInvocation() => Interlocked.Increment(ref _invocations) - 1;

    public T Get<T>(string key) => (T)Items[key];

    /// <summary>Removes and disposes the items named, in that order (the clients before the servers they talk to).</summary>
    public async Task DisposeItemsAsync(params string[] keys)
    {
        foreach (var key in keys)
        {
            if (!Items.TryRemove(key, out var item))
            {
                continue;
            }

            if (item is IAsyncDisposable asyncDisposable)
            {
                await asyncDisposable.DisposeAsync().ConfigureAwait(false);
            }
            else if (item is IDisposable disposable)
            {
                disposable.Dispose();
            }
        }
    }

    public void Figure(string name, string value)
    {
        lock (Figures)
        {
            Figures.Add(new(name, value));
        }
    }
}

/// <summary>A named scenario: a step, its load simulations, an init before and a clean after.</summary>
public sealed class Scenario
{
    private Scenario(string name, Func<ScenarioContext, Task<Response>> step)
    {
        Name = name;
        Step = step;
    }

    public string Name { get; }

    public Func<ScenarioContext, Task<Response>> Step { get; }

    public Func<ScenarioContext, Task> Init { get; private set; } = _ => Task.CompletedTask;

    /// <summary>Runs after the warm-up (or right after <see cref="Init"/> when there is none), before the measured load: where a scenario starts its own measurements.</summary>
    public Func<ScenarioContext, Task> AfterWarmUp { get; private set; } = _ => Task.CompletedTask;

    /// <summary>Runs after the simulations (while the system under load is still up), e.g. to read its CPU.</summary>
    public Func<ScenarioContext, Task> AfterRun { get; private set; } = _ => Task.CompletedTask;

    public Func<ScenarioContext, Task> Clean { get; private set; } = _ => Task.CompletedTask;

    public TimeSpan WarmUp { get; private set; }

    public IReadOnlyList<LoadSimulation> Simulations { get; private set; } = [];

    /// <summary>Steps started at once beyond which a new one is counted as dropped rather than piled up.</summary>
    public int MaxInFlight { get; private set; } = 10_000;

    public string Description { get; private set; } = "";

    public static Scenario Create(string name, Func<ScenarioContext, Task<Response>> step) => new(name, step);

    public Scenario WithInit(Func<ScenarioContext, Task> init)
    {
        Init = init;
        return this;
    }

    public Scenario WithAfterWarmUp(Func<ScenarioContext, Task> afterWarmUp)
    {
        AfterWarmUp = afterWarmUp;
        return this;
    }

    public Scenario WithAfterRun(Func<ScenarioContext, Task> afterRun)
    {
        AfterRun = afterRun;
        return this;
    }

    public Scenario WithClean(Func<ScenarioContext, Task> clean)
    {
        Clean = clean;
        return this;
    }

    /// <summary>Runs the first simulation's load for this long first, unrecorded.</summary>
    public Scenario WithWarmUpDuration(TimeSpan warmUp)
    {
        WarmUp = warmUp;
        return this;
    }

    public Scenario WithLoadSimulations(params LoadSimulation[] simulations)
    {
        Simulations = simulations;
        return this;
    }

    public Scenario WithMaxInFlight(int maxInFlight)
    {
        MaxInFlight = maxInFlight;
        return this;
    }

    public Scenario WithDescription(string description)
    {
        Description = description;
        return this;
    }
}
