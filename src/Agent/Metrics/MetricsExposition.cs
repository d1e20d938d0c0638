using System.IO.Compression;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using RedisAgent.Sampling;

namespace RedisAgent.Metrics;

/// <summary>
/// Serves <c>/metrics</c> from a rendering of the registry that is rebuilt when a new sample
/// arrives or the rendering is older than <see cref="MetricsOptions.RenderInterval"/>, whichever
/// comes first, and otherwise served as it is (gzipped once, for the clients that ask). The values
/// change once per sample, so rendering them once per scrape would only spend the CPU that a
/// scraper storm then takes from Redis's host. Concurrent scrapes of a stale rendering wait for
/// one new rendering rather than each making its own.
/// </summary>
internal sealed class MetricsExposition(AgentMetrics metrics, SampleBook samples, IOptions<MetricsOptions> options, TimeProvider time)
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly TimeSpan _maxAge = options.Value.RenderInterval;
    private readonly Lock _lock = new();
    private Task<Rendering>? _current;

    public async Task WriteAsync(HttpContext context)
    {
        var rendering = await CurrentAsync(context.RequestAborted).ConfigureAwait(false);
        var gzip = AcceptsGzip(context.Request);
        var body = gzip ? rendering.Gzipped : rendering.Plain;
        context.Response.ContentType = ContentType;
        context.Response.ContentLength = body.Length;
        if (gzip)
        {
            context.Response.Headers.ContentEncoding = "gzip";
        }

        await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The current rendering, made anew when stale; one rendering for every scrape that finds it stale at once.</summary>
    internal Task<Rendering> CurrentAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_current is null || (_current.IsCompleted && IsStale(_current)))
            {
                _current = RenderAsync();
            }

            return _current.WaitAsync(cancellationToken);
        }
    }

    private bool IsStale(Task<Rendering> task) =>
        !task.IsCompletedSuccessfully
        || !ReferenceEquals(task.Result.Sample, samples.Last)
        || time.GetElapsedTime(task.Result.At) >= _maxAge;

    private async Task<Rendering> RenderAsync()
    {
        var sample = samples.Last;
        var at = time.GetTimestamp();
        using var plain = new MemoryStream(64 * 1024);
        await metrics.ExportAsTextAsync(plain, CancellationToken.None).ConfigureAwait(false);
        return new Rendering(plain.ToArray(), sample, at);
    }

    private static bool AcceptsGzip(HttpRequest request)
    {
        foreach (var value in request.Headers.AcceptEncoding)
        {
            if (value is not null && value.Contains("gzip", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>One rendering of the registry: the text, and its gzip made on first demand.</summary>
    internal sealed class Rendering(byte[] plain, RedisSample? sample, long at)
    {
        private byte[]? _gzipped;

        public byte[] Plain { get; } = plain;

        public RedisSample? Sample { get; } = sample;

        public long At { get; } = at;

        public byte[] Gzipped => LazyInitializer.EnsureInitialized(ref _gzipped, () =>
        {
            using var output = new MemoryStream(Plain.Length / 4);
            using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
            {
                gzip.Write(Plain);
            }

            return output.ToArray();
        });
    }
}
