using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using RedisAgent.Testing;
using RedisAgent.Tests.HostProbing;
using RedisFailover.Protos;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// Issue 17, the planned switchover: the primary's writes paused, the target caught up to the
/// paused primary's offset, and only then promoted. Under a writer that never stops, no write it
/// was told OK is missing afterwards; a target that cannot catch up is rolled back.
/// </summary>
[Collection(LoopbackHostsCollection.Name)]
public sealed class SwitchoverTests(LoopbackHosts hosts, Xunit.Abstractions.ITestOutputHelper output) : ThreeHostResource(hosts)
{
    private readonly string _metricsUrl = $"http://127.0.0.1:{LoopbackPorts.Free()}";

    private protected override Dictionary<string, string?> CoordinatorSettings() => new() { ["Failover:MetricsUrl"] = _metricsUrl };

    [Fact]
    public async Task A_coordinator_stopped_while_a_switchover_waits_rolls_it_back_and_the_primary_takes_writes_again()
    {
        var admin = new Admin.AdminClient(Channel);
        var target = Hosts[1];
        var pid = await Resp.ProcessIdAsync(target.Address, target.Redis.Port);
        Signals.Send(pid, Signals.SigStop);
        try
        {
            // host-2 cannot catch up (stopped): the switchover waits, host-1's writes paused.
            var call = admin.SwitchoverAsync(new SwitchoverRequest { Resource = "cache", To = "host-2", CatchUpTimeoutMs = 60_000 }, Coordinator.Headers).ResponseAsync;
            await Poll.UntilAsync(() => Coordinator.Store.Journal("cache").Any(r => r.Kind == "switchover" && r.Text.StartsWith("planned switchover from host-1 to host-2", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(10), () => Coordinator.Describe());
            await Poll.UntilAsync(async () => !(await Resp.CommandAsync(Hosts[0].Address, Hosts[0].Redis.Port, "SET", "paused", "1").WaitAsync(TimeSpan.FromMilliseconds(300)).ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default)),
                TimeSpan.FromSeconds(10), () => "host-1's writes are paused");

            // The coordinator stops as SIGTERM stops it, in the middle of the wait, and starts again.
            var clock = Stopwatch.StartNew();
            var stopping = DateTimeOffset.UtcNow;
            await Coordinator.RestartAsync();
            await Assert.ThrowsAnyAsync<RpcException>(() => call);

            // Rolled back as the stop began, not after the wait's 60 s.
            var rolledBack = Coordinator.Store.Journal("cache").Single(r => r.Kind == "switchover" && r.Text.Contains("rolled back: abandoned: the coordinator is stopping", StringComparison.Ordinal));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rolled back {(rolledBack.At - stopping).TotalMilliseconds:0} ms after the stop began; stopped and started again in {clock.Elapsed.TotalSeconds:0.0} s"));
            Assert.True(rolledBack.At - stopping < TimeSpan.FromSeconds(3), $"rolled back {rolledBack.At - stopping} after the stop began");
            // A write still blocked by the pause after a second is "not yet", not a failure: asked again until the deadline.
            await Poll.UntilAsync(async () => await Resp.CommandAsync(Hosts[0].Address, Hosts[0].Redis.Port, "SET", "after", "1").WaitAsync(TimeSpan.FromSeconds(1))
                    .ContinueWith(t => t.IsCompletedSuccessfully && t.Result == "OK", TaskScheduler.Default),
                TimeSpan.FromSeconds(15), () => "host-1 takes writes again\n" + Coordinator.Describe());
            await Poll.UntilAsync(() => Status() is { Primary: "host-1", Term: 1 } s && s.Nodes.Count(n => n.Connected) >= 2, TimeSpan.FromSeconds(15), () => Coordinator.Describe());
        }
        finally
        {
            Signals.Send(pid, Signals.SigCont);
        }
    }

    private async Task<string> ScrapeAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return await http.GetStringAsync(_metricsUrl + "/metrics");
    }

    [Fact]
    public async Task Switchovers_under_a_writer_lose_no_acknowledged_write()
    {
        // A writer at about a thousand SETs a second, following the URL file after any error.
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var urlFile = Coordinator.UrlFile;
        await Poll.UntilAsync(() => File.Exists(urlFile), TimeSpan.FromSeconds(10), () => "the primary published");
        var writer = new FollowingWriter(async () => await PublishedPrimaryAsync(), TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(1)).Start(stop.Token);
        await Poll.UntilAsync(() => writer.Count > 500, TimeSpan.FromSeconds(10), () => $"the writer writes: {writer.LastError}");

        var pauses = new List<double>();
        foreach (var target in new[] { "host-2", "host-3", "host-1", "host-3" })
        {
            var before = Status();
            var clock = Stopwatch.StartNew();
            var (code, text, error) = await CliAsync("switchover", "-r", "cache", "--to", target);
            pauses.Add(clock.Elapsed.TotalMilliseconds);
            Assert.True(code == 0, $"switchover to {target}: exit {code}: {error}\n{Coordinator.Describe()}");
            Assert.Equal($"Switching cache over to {target}... done, term {before.Term + 1}. No acknowledged write was left behind.\n", text);

            // The writer follows, and the others are in sync with the new primary before the next one.
            var count = writer.Count;
            await Poll.UntilAsync(() => writer.Count > count + 200, TimeSpan.FromSeconds(15), () => $"the writer goes on after the switchover to {target}: {writer.LastError}");
            await Poll.UntilAsync(() => Status() is { State: ResourceState.Healthy } s && s.Primary == target && Coordinator.Coordinator["cache"]!.Machine.InSyncNodes.Count() == 2,
                TimeSpan.FromSeconds(30), () => Coordinator.Describe());
        }

        await stop.CancelAsync();
        await writer.Task;
        var primary = await PublishedPrimaryAsync();
        var missing = await writer.MissingOnAsync(primary.Host, primary.Port);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{writer.Count} writes acknowledged through 4 switchovers, {missing} missing; switchover calls took {string.Join(", ", pauses.Select(p => p.ToString("0", CultureInfo.InvariantCulture)))} ms"));
        Assert.Equal(0, missing);

        var journal = Coordinator.Store.Journal("cache").ToList();
        Assert.Equal(4, journal.Count(r => r.Kind == "switchover" && r.Text.Contains("caught up with", StringComparison.Ordinal)));
        Assert.DoesNotContain(journal, r => r.Kind == "switchover" && r.Text.Contains("rolled back", StringComparison.Ordinal));

        // Counted as decisions: four switchovers done, each an incident closed "switched over" with its time.
        var metrics = await ScrapeAsync();
        Assert.Contains("redis_failover_switchovers_total{resource=\"cache\",result=\"done\"} 4\n", metrics, StringComparison.Ordinal);
        Assert.Contains("redis_failover_switchovers_total{resource=\"cache\",result=\"rolled_back\"} 0\n", metrics, StringComparison.Ordinal);
        Assert.Contains("redis_failover_promotions_total{resource=\"cache\",reason=\"switchover\"} 4\n", metrics, StringComparison.Ordinal);
        Assert.Contains("redis_failover_promotions_total{resource=\"cache\",reason=\"host_lost\"} 0\n", metrics, StringComparison.Ordinal);
        Assert.Contains("redis_failover_incidents_total{resource=\"cache\",outcome=\"switched_over\"} 4\n", metrics, StringComparison.Ordinal);
        Assert.Contains("redis_failover_decision_seconds_count{resource=\"cache\",outcome=\"switched_over\"} 4\n", metrics, StringComparison.Ordinal);
        Assert.Contains("redis_failover_confirmation_round{resource=\"cache\"} 0\n", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_target_that_cannot_catch_up_is_rolled_back_and_the_primary_takes_writes_again()
    {
        var admin = new Admin.AdminClient(Channel);
        var target = Hosts[1];
        var pid = await Resp.ProcessIdAsync(target.Address, target.Redis.Port);
        await Resp.CommandAsync(Hosts[0].Address, Hosts[0].Redis.Port, "SET", "before", "1");
        Signals.Send(pid, Signals.SigStop);
        try
        {
            var refused = await Assert.ThrowsAsync<RpcException>(async () =>
                await admin.SwitchoverAsync(new SwitchoverRequest { Resource = "cache", To = "host-2", CatchUpTimeoutMs = 500 }, Coordinator.Headers));
            Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
            Assert.Contains("host-2 did not catch up with host-1", refused.Status.Detail, StringComparison.Ordinal);
            Assert.Contains("Rolled back: host-1 is the primary and takes writes again", refused.Status.Detail, StringComparison.Ordinal);
        }
        finally
        {
            Signals.Send(pid, Signals.SigCont);
        }

        Assert.Equal("host-1", Status().Primary);
        await Poll.UntilAsync(async () => await Resp.CommandAsync(Hosts[0].Address, Hosts[0].Redis.Port, "SET", "after", "1").WaitAsync(TimeSpan.FromSeconds(1)) == "OK",
            TimeSpan.FromSeconds(10), () => "host-1 takes writes again\n" + Coordinator.Describe());
        Assert.Contains(Coordinator.Store.Journal("cache"), r => r.Kind == "switchover" && r.Text.Contains("rolled back", StringComparison.Ordinal));
        var metrics = await ScrapeAsync();
        Assert.Contains("redis_failover_switchovers_total{resource=\"cache\",result=\"rolled_back\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("redis_failover_promotions_total{resource=\"cache\",reason=\"switchover\"} 0\n", metrics, StringComparison.Ordinal);

        // Refused before anything is paused: not a node, already the primary, a bad bound.
        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await admin.SwitchoverAsync(new SwitchoverRequest { Resource = "cache", To = "host-9" }, Coordinator.Headers));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        var already = await Assert.ThrowsAsync<RpcException>(async () => await admin.SwitchoverAsync(new SwitchoverRequest { Resource = "cache", To = "host-1" }, Coordinator.Headers));
        Assert.Contains("host-1 is already the primary", already.Status.Detail, StringComparison.Ordinal);
        var bound = await Assert.ThrowsAsync<RpcException>(async () => await admin.SwitchoverAsync(new SwitchoverRequest { Resource = "cache", CatchUpTimeoutMs = -1 }, Coordinator.Headers));
        Assert.Equal(StatusCode.InvalidArgument, bound.StatusCode);
    }
}
