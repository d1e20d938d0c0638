using System.Buffers;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace RedisAgent.Logs;

/// <summary>
/// <c>GET /logs</c>: the resource's lines as text, one per line, in the router's format.
/// The last <c>num</c> lines (of the source asked for) first (default 100, at most the ring's size), then, with
/// <c>tail=true</c>, every new line as it comes. <c>source=redis|agent|heroku-redis</c> filters. Each tail has
/// its own bounded queue: a reader that does not keep up loses its own oldest lines (and is told
/// in-line), never anyone else's.
/// </summary>
internal static class LogTailEndpoint
{
    /// <summary>The most a tail writes before it flushes, when it has that much queued.</summary>
    private const int MaxBatchBytes = 64 * 1024;

    public static IEndpointRouteBuilder MapLogTail(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/logs", HandleAsync);
        return endpoints;
    }

    private static async Task HandleAsync(HttpContext context, LogBus bus, IOptions<LogOptions> options, TimeProvider time, Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime)
    {
        var query = context.Request.Query;
        var history = options.Value.HistoryLines;
        if (!TryParse(query, history, out var num, out var source, out var tail, out var error))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync(error + "\n", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        SinkQueue? subscription = null;
        IReadOnlyList<LogLine> past;
        if (tail)
        {
            subscription = new SinkQueue("tail " + context.Connection.RemoteIpAddress, options.Value.TailQueueCapacity, time, options.Value.TailQueueBytes);
            if (bus.TrySubscribeTail(subscription, options.Value.MaxTails, int.MaxValue) is not { } recent)
            {
                context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                context.Response.Headers.RetryAfter = "5";
                await context.Response.WriteAsync($"{options.Value.MaxTails} live tails are attached already (Logs:MaxTails); try again later\n", context.RequestAborted).ConfigureAwait(false);
                return;
            }

            past = recent;
        }
        else
        {
            past = bus.History();
        }

        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        // A tail ends when its reader goes, and when the agent stops: a stop must not wait on readers
        // (the host would wait for them until its shutdown timeout, and Redis's save with it).
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var stop = ended.Token;
        try
        {
            var body = context.Response.BodyWriter;
            // The last num lines of the source asked for, as heroku logs -n N -s redis gives them.
            foreach (var line in past.Where(l => source is null || l.Source == source).TakeLast(num))
            {
                body.Write(line.TailBytes(bus.Resource).Span);
            }

            await body.FlushAsync(stop).ConfigureAwait(false);
            if (subscription is null)
            {
                return;
            }

            while (!stop.IsCancellationRequested)
            {
                // Everything already queued goes in one write (up to a bound), so a tail that falls
                // behind catches up in a few large writes rather than a flush a line.
                var (line, isLossMarker) = await subscription.TakeAsync(stop).ConfigureAwait(false);
                var taken = 0;
                var written = 0;
                while (true)
                {
                    if (isLossMarker || source is null || line.Source == source)
                    {
                        var bytes = line.TailBytes(bus.Resource);
                        body.Write(bytes.Span);
                        written += bytes.Length;
                    }

                    if (!isLossMarker)
                    {
                        taken++;
                    }

                    if (written >= MaxBatchBytes || !subscription.TryTake(out line, out isLossMarker))
                    {
                        break;
                    }
                }

                var flushed = await body.FlushAsync(stop).ConfigureAwait(false);
                if (taken > 0)
                {
                    subscription.Shipped(taken);
                }

                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The reader went away, or the agent is stopping: that is how a tail ends.
        }
        finally
        {
            if (subscription is not null)
            {
                bus.Detach(subscription);
            }
        }
    }

    internal static bool TryParse(IQueryCollection query, int history, out int num, out LogSource? source, out bool tail, out string? error)
    {
        num = 100;
        source = null;
        tail = false;
        error = null;
        if (query.TryGetValue("num", out var numText)
            && (!int.TryParse(numText, NumberStyles.None, CultureInfo.InvariantCulture, out num) || num > history))
        {
            error = $"num must be a whole number from 0 to {history} (the history kept), not '{numText}'";
            return false;
        }

        if (query.TryGetValue("source", out var sourceText))
        {
            if (LogLine.Named(sourceText.ToString()) is { } named)
            {
                source = named;
            }
            else
            {
                error = $"source must be redis, agent or heroku-redis, not '{sourceText}'";
                return false;
            }
        }

        if (query.TryGetValue("tail", out var tailText) && !bool.TryParse(tailText, out tail))
        {
            error = $"tail must be true or false, not '{tailText}'";
            return false;
        }

        return true;
    }
}
