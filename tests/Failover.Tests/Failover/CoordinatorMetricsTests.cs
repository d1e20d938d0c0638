using Grpc.Core;
using Grpc.Net.Client;
using RedisAgent.Testing;
using RedisFailover.Protos;

namespace RedisAgent.Tests.Failover;

/// <summary>The coordinator's /metrics (HTTP/1.1, its own address): resource state, and a store that refuses writes seen as it happens and as it ends.</summary>
public sealed class CoordinatorMetricsTests : IAsyncLifetime
{
    private readonly string _metricsUrl = $"http://127.0.0.1:{LoopbackPorts.Free()}";
    private FailoverUnderTest _coordinator = null!;
    private GrpcChannel _channel = null!;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public async Task InitializeAsync()
    {
        _coordinator = await FailoverUnderTest.StartAsync("cache", [("n1", "127.0.0.1:1"), ("n2", "127.0.0.1:2")],
            new Dictionary<string, string?> { ["Failover:MetricsUrl"] = _metricsUrl });
        _channel = GrpcChannel.ForAddress(_coordinator.Url);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        _channel.Dispose();
        await _coordinator.DisposeAsync();
    }

    [Fact]
    public async Task A_store_that_refuses_writes_shows_in_the_metrics_and_so_does_its_recovery()
    {
        var metrics = await ScrapeAsync();
        Assert.Contains("redis_failover_term{resource=\"cache\"} 0", metrics, StringComparison.Ordinal);
        Assert.Contains("redis_failover_resource_state{resource=\"cache\",state=\"Degraded\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("redis_failover_store_failing{resource=\"cache\"} 0", metrics, StringComparison.Ordinal);
        // No agent has reported: no primary is known, so no failover could happen, and the metrics say so.
        Assert.Contains("redis_failover_failover_blocked{resource=\"cache\",reason=\"no_primary\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("redis_failover_failover_blocked{resource=\"cache\",reason=\"paused\"} 0", metrics, StringComparison.Ordinal);
        Assert.Contains("redis_failover_nodes{resource=\"cache\"} 2", metrics, StringComparison.Ordinal);
        Assert.Contains("redis_failover_agents_connected{resource=\"cache\"} 0", metrics, StringComparison.Ordinal);
        Assert.Contains("redis_failover_paused{resource=\"cache\"} 0", metrics, StringComparison.Ordinal);
        Assert.Contains("\nredis_failover_leading 1\n", metrics, StringComparison.Ordinal);
        // The process's own footprint and collections, as the agent serves its own.
        foreach (var family in new[] { "process_cpu_seconds_total", "process_working_set_bytes", "dotnet_collection_count_total", "dotnet_gc_pause_seconds_total", "dotnet_gc_allocated_bytes_total" })
        {
            Assert.Contains($"\n# TYPE {family} ", metrics, StringComparison.Ordinal);
        }

        Assert.Matches(@"\ndotnet_gc_allocated_bytes_total [1-9][0-9]*(\.[0-9]+)?(e\+[0-9]+)?\n", metrics);

        var blocker = Directory.CreateDirectory(Path.Combine(_coordinator.StoreDirectory, "cache.state.json.tmp"));
        var admin = new Admin.AdminClient(_channel);
        var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            await admin.SetSettingsAsync(new SetSettingsRequest { Resource = "cache", Settings = new Settings { TimeoutSeconds = 60 } }, _coordinator.Headers));
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);

        metrics = await ScrapeAsync();
        Assert.Contains("redis_failover_store_failing{resource=\"cache\"} 1", metrics, StringComparison.Ordinal);
        // A failover is impossible meanwhile (no term could be written), and status and the metrics say so.
        Assert.Contains("redis_failover_failover_blocked{resource=\"cache\",reason=\"store_unavailable\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains(admin.GetStatus(new ResourceRequest { Resource = "cache" }, _coordinator.Headers).FailoverBlockers,
            b => b.StartsWith("the coordinator's store has refused writes since ", StringComparison.Ordinal));
        Assert.DoesNotContain("redis_failover_store_write_failures_total{resource=\"cache\"} 0", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("redis_failover_held_effects{resource=\"cache\"} 0", metrics, StringComparison.Ordinal);

        blocker.Delete();
        await Poll.UntilAsync(async () => (await ScrapeAsync()).Contains("redis_failover_store_failing{resource=\"cache\"} 0", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), () => "the store takes writes again");
        metrics = await ScrapeAsync();
        Assert.Contains("redis_failover_held_effects{resource=\"cache\"} 0", metrics, StringComparison.Ordinal);
        Assert.Contains("redis_failover_failover_blocked{resource=\"cache\",reason=\"store_unavailable\"} 0", metrics, StringComparison.Ordinal);
        Assert.Equal(60, (await admin.GetStatusAsync(new ResourceRequest { Resource = "cache" }, _coordinator.Headers)).Settings.TimeoutSeconds);
        Assert.Equal(60, _coordinator.Store.Load("cache").TimeoutSeconds);
    }

    [Fact]
    public async Task Refused_calls_are_counted_and_metrics_are_not_served_on_the_agents_address()
    {
        var bad = new Metadata { { "authorization", "Bearer not-the-token-at-all" } };
        await Assert.ThrowsAsync<RpcException>(async () => await new Admin.AdminClient(_channel).GetStatusAsync(new ResourceRequest { Resource = "cache" }, bad));

        Assert.Contains("redis_failover_refused_calls_total 1", await ScrapeAsync(), StringComparison.Ordinal);
        using var h2c = new HttpClient(new SocketsHttpHandler()) { DefaultRequestVersion = System.Net.HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var onAgentsAddress = await h2c.GetAsync($"{_coordinator.Url}/metrics");
        Assert.NotEqual(System.Net.HttpStatusCode.OK, onAgentsAddress.StatusCode);
    }

    private Task<string> ScrapeAsync() => _http.GetStringAsync($"{_metricsUrl}/metrics");
}
