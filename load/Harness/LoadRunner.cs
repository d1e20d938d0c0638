using System.Diagnostics;
using HdrHistogram;

namespace RedisAgent.Load.Harness;

/// <summary>
/// Runs scenarios one after another (so that their figures do not mix) and writes one report.
/// Latency is measured from when a step was due, not when it got started, so a system that
/// stalls the load generator is charged for the stall (no coordinated omission).
/// </summary>
public sealed class LoadRunner
{
    private readonly List<Scenario> _scenarios;
    private string _folder = "load/results";
    private string _title = "Load report";

    private LoadRunner(IEnumerable<Scenario> scenarios)
    {
        _scenarios = [.. scenarios];
    }

    public static LoadRunner RegisterScenarios(params Scenario[] scenarios) => new(scenarios);

    public LoadRunner WithReportFolder(string folder)
    {
        _folder = folder;
        return this;
    }

    public LoadRunner WithTitle(string title)
    {
        _title = title;
        return this;
    }

    /// <summary>Runs every scenario, writes the report (Markdown and JSON) and returns it.</summary>
    public async Task<RunReport> RunAsync(Action<string>? progress = null, CancellationToken cancellationToken = default)
    {
        var started = DateTimeOffset.UtcNow;
        var handOff = HandOff.Measure();
        var reports = new List<ScenarioReport>();
        foreach (var scenario in _scenarios)
        {
            progress?.Invoke($"{scenario.Name}: {string.Join(", ", scenario.Simulations)}");
            var report = await RunScenarioAsync(scenario, cancellationToken).ConfigureAwait(false);
            progress?.Invoke(report.Summary());
            reports.Add(report);
        }

        var run = new RunReport(_title, started, DateTimeOffset.UtcNow, MachineDescription.Current(handOff), reports);
        run.Files = ReportWriter.Write(run, _folder);
        return run;
    }

    public static async Task<ScenarioReport> RunScenarioAsync(Scenario scenario, CancellationToken cancellationToken)
    {
        var context = new ScenarioContext(scenario.Name, cancellationToken);
        var stats = new StepStats();
        string? error = null;
        var clock = Stopwatch.StartNew();
        try
        {
            await scenario.Init(context).ConfigureAwait(false);
            if (scenario.WarmUp > TimeSpan.Zero && scenario.Simulations.Count > 0)
            {
                await RunSimulationAsync(scenario, scenario.Simulations[0] with { During = scenario.WarmUp }, context, new StepStats(), cancellationToken).ConfigureAwait(false);
            }

            await scenario.AfterWarmUp(context).ConfigureAwait(false);
            clock.Restart();
            var machineBefore = MachineCpu.Now();
            foreach (var simulation in scenario.Simulations)
            {
                await RunSimulationAsync(scenario, simulation, context, stats, cancellationToken).ConfigureAwait(false);
            }

            clock.Stop();
            var machineAfter = MachineCpu.Now();
            await scenario.AfterRun(context).ConfigureAwait(false);
            if (machineBefore is { } b && machineAfter is { } a)
            {
                // Last, after the scenario's own figures: the noise its figures were measured in.
                context.Figure("the machine while measured (/proc/stat)", MachineCpu.Describe(b, a));
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            error = $"{ex.GetType().Name}: {ex.Message}";
        }
        finally
        {
            try
            {
                await scenario.Clean(context).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                error ??= $"clean failed: {ex.GetType().Name}: {ex.Message}";
            }
        }

        return stats.ToReport(scenario, clock.Elapsed, error, context.Figures);
    }

    private static async Task RunSimulationAsync(Scenario scenario, LoadSimulation simulation, ScenarioContext context, StepStats stats, CancellationToken cancellationToken)
    {
        switch (simulation)
        {
            case LoadSimulation.KeepConstant constant:
                var end = Stopwatch.GetTimestamp() + (long)(constant.During.TotalSeconds * Stopwatch.Frequency);
                await Task.WhenAll(Enumerable.Range(0, constant.Copies).Select(_ => Task.Run(async () =>
                {
                    while (Stopwatch.GetTimestamp() < end && !cancellationToken.IsCancellationRequested)
                    {
                        await RunStepAsync(scenario, context, stats, Stopwatch.GetTimestamp()).ConfigureAwait(false);
                    }
                }, cancellationToken))).ConfigureAwait(false);
                break;
            default:
                await InjectAsync(scenario, simulation, context, stats, cancellationToken).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>Open model: step i is due at <see cref="Schedule.DueSeconds"/>; it starts then whatever the others are doing.</summary>
    private static async Task InjectAsync(Scenario scenario, LoadSimulation simulation, ScenarioContext context, StepStats stats, CancellationToken cancellationToken)
    {
        var schedule = new Schedule(simulation);
        var inFlight = 0;
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long next = 0;

        // The pacing runs on a thread of its own and starts each step itself (up to the step's first
        // await): behind thousands of the system's continuations in the thread pool's queue, a
        // pacing loop there would start steps late and charge its own queueing to the system.
        var pacing = Task.Factory.StartNew(
            () =>
            {
                var start = Stopwatch.GetTimestamp();
                while (Volatile.Read(ref next) < schedule.Count && !cancellationToken.IsCancellationRequested)
                {
                    var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
                    while (next < schedule.Count && schedule.DueSeconds(next) <= elapsed)
                    {
                        var due = start + (long)(schedule.DueSeconds(next) * Stopwatch.Frequency);
                        Interlocked.Increment(ref next);
                        if (Volatile.Read(ref inFlight) >= scenario.MaxInFlight)
                        {
                            stats.Dropped();
                            continue;
                        }

                        Interlocked.Increment(ref inFlight);
                        _ = RunStepAsync(scenario, context, stats, due).ContinueWith(
                            _ =>
                            {
                                if (Interlocked.Decrement(ref inFlight) == 0 && Volatile.Read(ref next) >= schedule.Count)
                                {
                                    drained.TrySetResult();
                                }
                            },
                            CancellationToken.None,
                            TaskContinuationOptions.ExecuteSynchronously,
                            TaskScheduler.Default);
                    }

                    Thread.Sleep(1);
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        await pacing.ConfigureAwait(false);

        if (Volatile.Read(ref inFlight) > 0)
        {
            // Steps still running at the end get 30 s to finish; their latencies count.
            await Task.WhenAny(drained.Task, Task.Delay(TimeSpan.FromSeconds(30), cancellationToken)).ConfigureAwait(false);
        }
    }

    private static async Task RunStepAsync(Scenario scenario, ScenarioContext context, StepStats stats, long dueTimestamp)
    {
        // How late the generator started the step: charged to the latency all the same, reported apart.
        stats.Lag(Stopwatch.GetElapsedTime(dueTimestamp));
        try
        {
            var response = await scenario.Step(context).ConfigureAwait(false);
            stats.Record(response, Stopwatch.GetElapsedTime(dueTimestamp));
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !context.CancellationToken.IsCancellationRequested)
        {
            stats.Record(Response.Fail(ex.GetType().Name + ": " + ex.Message), Stopwatch.GetElapsedTime(dueTimestamp));
        }
    }
}

/// <summary>When each step of an injection is due, from the start of the simulation.</summary>
internal sealed class Schedule
{
    private readonly double _from;
    private readonly double _slope;

    public Schedule(LoadSimulation simulation)
    {
        var seconds = simulation.During.TotalSeconds;
        (_from, var to) = simulation switch
        {
            LoadSimulation.Inject inject => (inject.Rate, (double)inject.Rate),
            LoadSimulation.RampingInject ramp => (ramp.From, ramp.To),
            _ => throw new ArgumentException($"{simulation} is not an injection.", nameof(simulation)),
        };
        _slope = seconds > 0 ? (to - _from) / seconds : 0;
        // Steps in the whole simulation: the integral of the rate.
        Count = (long)Math.Floor((_from * seconds) + (_slope * seconds * seconds / 2));
    }

    public long Count { get; }

    /// <summary>The time t at which from·t + slope·t²/2 = i.</summary>
    public double DueSeconds(long i) =>
        Math.Abs(_slope) < 1e-9
            ? i / _from
            : (-_from + Math.Sqrt((_from * _from) + (2 * _slope * i))) / _slope;
}

/// <summary>Counts and latencies of one scenario's steps (thread-safe).</summary>
internal sealed class StepStats
{
    private const long HighestMicroseconds = 60_000_000;
    private readonly LongConcurrentHistogram _latency = new(1, HighestMicroseconds, 3);
    private readonly LongConcurrentHistogram _lag = new(1, HighestMicroseconds, 3);
    private readonly Dictionary<string, long> _errors = new(StringComparer.Ordinal);
    private long _ok;
    private long _failed;
    private long _dropped;
    private long _bytes;

    public void Record(Response response, TimeSpan latency)
    {
        var micros = Math.Clamp((long)latency.TotalMicroseconds, 1, HighestMicroseconds);
        if (response.IsOk)
        {
            Interlocked.Increment(ref _ok);
            Interlocked.Add(ref _bytes, response.Bytes);
            _latency.RecordValue(micros);
        }
        else
        {
            Interlocked.Increment(ref _failed);
            lock (_errors)
            {
                var key = response.Error ?? "failed";
                _errors[key] = _errors.GetValueOrDefault(key) + 1;
            }
        }
    }

    public void Dropped() => Interlocked.Increment(ref _dropped);

    public void Lag(TimeSpan lag) => _lag.RecordValue(Math.Clamp((long)lag.TotalMicroseconds, 1, HighestMicroseconds));

    public ScenarioReport ToReport(Scenario scenario, TimeSpan duration, string? error, IReadOnlyList<KeyValuePair<string, string>> figures)
    {
        double Ms(double percentile) => _ok == 0 ? 0 : _latency.GetValueAtPercentile(percentile) / 1000.0;
        List<KeyValuePair<string, long>> errors;
        lock (_errors)
        {
            errors = [.. _errors.OrderByDescending(e => e.Value).Take(5)];
        }

        return new ScenarioReport(
            scenario.Name,
            scenario.Description,
            [.. scenario.Simulations.Select(s => s.ToString()!)],
            duration.TotalSeconds,
            _ok,
            _failed,
            _dropped,
            duration.TotalSeconds > 0 ? _ok / duration.TotalSeconds : 0,
            _bytes,
            new LatencyReport(Ms(50), Ms(75), Ms(95), Ms(99), Ms(99.9), _ok == 0 ? 0 : _latency.GetMaxValue() / 1000.0, _ok == 0 ? 0 : _latency.GetMean() / 1000.0),
            errors,
            error,
            [.. figures],
            _lag.TotalCount == 0 ? 0 : _lag.GetValueAtPercentile(99) / 1000.0);
    }
}
