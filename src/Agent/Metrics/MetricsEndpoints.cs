using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using RedisAgent.Node;
using RedisAgent.Probing;
using RedisAgent.Sampling;

namespace RedisAgent.Metrics;

/// <summary>
/// <c>GET /metrics</c> (Prometheus text, from memory: see <see cref="MetricsExposition"/>), <c>GET /healthz</c> (the agent is alive and
/// serving) and <c>GET /readyz</c> (a first sample has been taken and the port probes are running;
/// 503 with the reason otherwise).
/// </summary>
internal static class MetricsEndpoints
{
    public static IEndpointRouteBuilder MapMetricsAndHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/metrics", (HttpContext context, MetricsExposition exposition) => exposition.WriteAsync(context));
        endpoints.MapGet("/healthz", () => Results.Text("ok\n"));
        endpoints.MapGet("/readyz", (SampleBook samples, NodeStatus status, IOptions<ProbeOptions> probe, TimeProvider time) =>
            Readiness(samples, status.Snapshot, probe.Value, time.GetUtcNow()) is { } reason
                ? Results.Text($"not ready: {reason}\n", statusCode: StatusCodes.Status503ServiceUnavailable)
                : Results.Text("ready\n"));
        return endpoints;
    }

    /// <summary>Why the agent is not ready, or null when it is.</summary>
    internal static string? Readiness(SampleBook samples, NodeSnapshot node, ProbeOptions probe, DateTimeOffset now)
    {
        if (samples.Samples == 0)
        {
            return samples.LastError is { } error ? $"no sample of the node yet (last attempt: {error})" : "no sample of the node yet";
        }

        // A probe takes at most its timeout, then waits an interval: three of those without a result means the loop is stuck.
        var allowed = 3 * (probe.Interval + probe.Timeout);
        if (node.LastProbe is not { } last)
        {
            return "no port probe has finished yet";
        }

        var age = now - last.At;
        return age > allowed
            ? string.Create(CultureInfo.InvariantCulture, $"the last port probe finished {age.TotalSeconds:0.#} s ago (more than {allowed.TotalSeconds:0.#} s)")
            : null;
    }
}
