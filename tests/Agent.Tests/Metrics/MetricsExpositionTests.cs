using System.IO.Compression;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using RedisAgent.Logs;
using RedisAgent.Metrics;
using RedisAgent.Node;
using RedisAgent.Sampling;

namespace RedisAgent.Tests.Metrics;

/// <summary>/metrics is rendered once per sample (or per RenderInterval), not once per scrape.</summary>
public sealed class MetricsExpositionTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch.AddYears(56));
    private readonly SampleBook _samples = new();
    private readonly AgentMetrics _metrics;
    private readonly MetricsExposition _exposition;
    private int _renderings;

    public MetricsExpositionTests()
    {
        _metrics = new AgentMetrics(_samples, new NodeStatus(), new ObservationBook(), new LogBus(Options.Create(new LogOptions())),
            Options.Create(new PlanOptions()), _time, NullLogger<AgentMetrics>.Instance);
        _metrics.Registry.AddBeforeCollectCallback(() => Interlocked.Increment(ref _renderings));
        _exposition = new MetricsExposition(_metrics, _samples, Options.Create(new MetricsOptions { RenderInterval = TimeSpan.FromSeconds(1) }), _time);
    }

    [Fact]
    public async Task Scrapes_between_two_samples_share_one_rendering()
    {
        _samples.Succeeded(PlanTests.Sample(("connected_clients", "3")) with { At = _time.GetUtcNow() });

        var first = await ScrapeAsync();
        for (var i = 0; i < 99; i++)
        {
            Assert.Equal(first, await ScrapeAsync());
        }

        Assert.Equal(1, _renderings);
        Assert.Contains("redis_connected_clients 3\n", first, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_new_sample_is_served_at_once()
    {
        _samples.Succeeded(PlanTests.Sample(("connected_clients", "3")) with { At = _time.GetUtcNow() });
        await ScrapeAsync();

        _samples.Succeeded(PlanTests.Sample(("connected_clients", "4")) with { At = _time.GetUtcNow() });

        Assert.Contains("redis_connected_clients 4\n", await ScrapeAsync(), StringComparison.Ordinal);
        Assert.Equal(2, _renderings);
    }

    /// <summary>
    /// Issue 18: while Redis is down its series go (redis_exporter drops them too), so panels show a
    /// gap, not the last values frozen; redis_up and the agent's own stay; the next sample brings them back.
    /// </summary>
    [Fact]
    public async Task While_redis_is_down_its_sampled_series_are_dropped_and_come_back_with_it()
    {
        _samples.Succeeded(PlanTests.Sample(("connected_clients", "3"), ("db0", "keys=5,expires=0,avg_ttl=0")) with { At = _time.GetUtcNow() });
        var up = await ScrapeAsync();
        Assert.Contains("redis_connected_clients 3\n", up, StringComparison.Ordinal);
        Assert.Contains("redis_db_keys{db=\"db0\"} 5\n", up, StringComparison.Ordinal);

        _samples.Failed(_time.GetUtcNow(), "connection refused");
        _time.Advance(TimeSpan.FromSeconds(1));
        var down = await ScrapeAsync();

        Assert.Contains("redis_up 0\n", down, StringComparison.Ordinal);
        Assert.DoesNotContain("\nredis_connected_clients ", down, StringComparison.Ordinal);
        Assert.DoesNotContain("redis_db_keys{", down, StringComparison.Ordinal);
        Assert.Contains("redis_agent_sample_age_seconds", down, StringComparison.Ordinal);

        _samples.Succeeded(PlanTests.Sample(("connected_clients", "4"), ("db0", "keys=5,expires=0,avg_ttl=0")) with { At = _time.GetUtcNow() });
        var back = await ScrapeAsync();
        Assert.Contains("redis_up 1\n", back, StringComparison.Ordinal);
        Assert.Contains("redis_connected_clients 4\n", back, StringComparison.Ordinal);
        Assert.Contains("redis_db_keys{db=\"db0\"} 5\n", back, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_new_sample_the_rendering_is_rebuilt_after_the_render_interval()
    {
        await ScrapeAsync();
        _time.Advance(TimeSpan.FromMilliseconds(999));
        await ScrapeAsync();
        Assert.Equal(1, _renderings);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        var text = await ScrapeAsync();

        Assert.Equal(2, _renderings);
        // The sample's age, for one, moved on.
        Assert.Contains("redis_agent_sample_age_seconds 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_that_accepts_gzip_gets_the_same_text_gzipped()
    {
        _samples.Succeeded(PlanTests.Sample(("connected_clients", "3")) with { At = _time.GetUtcNow() });
        var plain = await ScrapeAsync();

        var context = new DefaultHttpContext();
        context.Request.Headers.AcceptEncoding = "gzip, deflate";
        context.Response.Body = new MemoryStream();
        await _exposition.WriteAsync(context);

        Assert.Equal("gzip", context.Response.Headers.ContentEncoding.ToString());
        context.Response.Body.Position = 0;
        await using var gzip = new GZipStream(context.Response.Body, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        Assert.Equal(plain, await reader.ReadToEndAsync());
    }

    private async Task<string> ScrapeAsync()
    {
        var context = new DefaultHttpContext();
        context.Response.Body = new MemoryStream();
        await _exposition.WriteAsync(context);
        Assert.Equal(MetricsExposition.ContentType, context.Response.ContentType);
        Assert.Null(context.Response.Headers.ContentEncoding.FirstOrDefault());
        return Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());
    }
}
