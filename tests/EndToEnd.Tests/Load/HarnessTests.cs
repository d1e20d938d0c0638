using RedisAgent.Load.Harness;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Load;

/// <summary>The load harness itself: its schedules, its counts and its report.</summary>
public sealed class HarnessTests
{
    [Fact]
    public void A_constant_injection_is_evenly_spaced_and_a_ramp_integrates_its_rate()
    {
        var constant = new Schedule(new LoadSimulation.Inject(200, TimeSpan.FromSeconds(3)));
        Assert.Equal(600, constant.Count);
        Assert.Equal(0.005, constant.DueSeconds(1), 9);
        Assert.Equal(2.995, constant.DueSeconds(599), 9);

        // 0/s to 100/s over 2 s: 100 steps in all, a quarter of them in the first second.
        var ramp = new Schedule(new LoadSimulation.RampingInject(0, 100, TimeSpan.FromSeconds(2)));
        Assert.Equal(100, ramp.Count);
        Assert.Equal(1.0, ramp.DueSeconds(25), 6);
        Assert.True(Enumerable.Range(1, 99).All(i => ramp.DueSeconds(i) > ramp.DueSeconds(i - 1)));
    }

    [Fact]
    public async Task A_run_counts_every_step_measures_from_when_it_was_due_and_writes_both_reports()
    {
        using var folder = new TempDirectory("harness");
        var slowOnes = 0;
        var scenario = Scenario.Create("delay", async context =>
            {
                var n = context.NextInvocation();
                if (n % 50 == 49)
                {
                    Interlocked.Increment(ref slowOnes);
                    return Response.Fail("every 50th fails");
                }

                await Task.Delay(2, context.CancellationToken);
                return Response.Ok(bytes: 10);
            })
            .WithInit(context =>
            {
                context.Figure("init ran", "yes");
                return Task.CompletedTask;
            })
            .WithLoadSimulations(new LoadSimulation.Inject(200, TimeSpan.FromSeconds(1)), new LoadSimulation.KeepConstant(2, TimeSpan.FromMilliseconds(300)));

        var report = await LoadRunner.RegisterScenarios(scenario).WithReportFolder(folder.Path).WithTitle("harness test").RunAsync();

        var s = Assert.Single(report.Scenarios);
        Assert.Null(s.Error);
        // 200 injected, then whatever two closed loops of 2 ms steps do in 0.3 s (at most 300).
        Assert.InRange(s.Ok + s.Failed, 200 + 2, 200 + 300);
        Assert.Equal(slowOnes, s.Failed);
        Assert.Equal(s.Ok * 10, s.Bytes);
        Assert.InRange(s.Latency.P50Ms, 2, 1000);
        Assert.True(s.Latency.P99Ms >= s.Latency.P50Ms && s.Latency.MaxMs >= s.Latency.P99Ms);
        Assert.Contains(new KeyValuePair<string, string>("init ran", "yes"), s.Figures);
        Assert.Equal(2, report.Files.Count);
        var markdown = await File.ReadAllTextAsync(report.Files[0]);
        Assert.Contains("## delay", markdown, StringComparison.Ordinal);
        Assert.Contains("inject 200/s for 1 s; 2 copies for 0 s", markdown, StringComparison.Ordinal);
        Assert.Contains("\"okPerSecond\"", await File.ReadAllTextAsync(report.Files[1]), StringComparison.Ordinal);
        // The machine's wake-up cost heads the report, so that two runs' CPU figures can be read side by side.
        Assert.InRange(report.Machine.HandOffMicroseconds, 0.01, 10_000);
        Assert.Contains("a thread waking another costs ", markdown, StringComparison.Ordinal);
        // And the steal of the machine while it was measured, after the scenario's own figures.
        var machine = s.Figures[^1];
        Assert.Equal("the machine while measured (/proc/stat)", machine.Key);
        Assert.Matches(@"^stolen by the hypervisor \d+\.\d% of its CPU time \([\d.]+ s of [\d.]+ core-seconds\); busy \d+\.\d%, idle \d+\.\d%$", machine.Value);
    }

    [Fact]
    public void The_machine_s_steal_is_read_from_proc_stat_s_first_line_as_a_share_of_its_CPU_time()
    {
        // user nice system idle iowait irq softirq steal guest guest_nice: guest is inside user already.
        var before = MachineCpu.Parse("cpu  1000 10 200 5000 40 0 50 100 300 0");
        var after = MachineCpu.Parse("cpu  1600 10 300 5300 40 0 50 300 400 0");
        Assert.Equal(new MachineCpu(Busy: 1260, Idle: 5040, Steal: 100), before);
        Assert.Equal("stolen by the hypervisor 16.7% of its CPU time (2 s of 12 core-seconds); busy 58.3%, idle 25.0%", MachineCpu.Describe(before!.Value, after!.Value));
        Assert.Equal("no CPU time passed", MachineCpu.Describe(before.Value, before.Value));
        Assert.Null(MachineCpu.Parse("cpu0 1 2 3 4 5 6 7 8"));
        Assert.Null(MachineCpu.Parse("cpu  1 2 3 4 5 6 7"));
        Assert.Null(MachineCpu.Parse("cpu  1 2 3 -4 5 6 7 8"));
        Assert.Null(MachineCpu.Parse(""));
    }

    [Fact]
    public void A_hand_off_is_measured_in_microseconds_and_bounded_in_count()
    {
        var few = HandOff.Measure(roundTrips: 10);
        Assert.InRange(few, 0.01, 10_000);
        Assert.Throws<ArgumentOutOfRangeException>(() => HandOff.Measure(roundTrips: 0));
    }
}
