using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using RedisFailover.Cli;
using RedisFailover.Coordination;
using RedisFailover.Services;
using RedisFailover.Store;
using RedisFailover.Trust;

namespace RedisFailover.Dashboard;

/// <summary>
/// The read-only web dashboard (<c>Failover:DashboardUrl</c>): a page, its script and its style,
/// embedded in the binary (no CDN: it works offline), and three JSON reads that need a <c>read</c>
/// credential as the Admin API does (a bearer token, or a client certificate over https): every
/// resource's status, a resource's incidents, its primary's plan-limit history. The page renders
/// everything with text nodes, never markup from data: a journal line is an agent's words.
/// </summary>
internal static class DashboardEndpoints
{
    /// <summary>What a browser may do with the page: nothing but this origin's script, style and data.</summary>
    private const string Policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    private static readonly Dictionary<string, (string Resource, string Type)> Assets = new(StringComparer.Ordinal)
    {
        ["/"] = ("index.html", "text/html; charset=utf-8"),
        ["/dashboard.js"] = ("dashboard.js", "text/javascript; charset=utf-8"),
        ["/dashboard.css"] = ("dashboard.css", "text/css; charset=utf-8"),
    };

    public static void Map(IEndpointRouteBuilder app, string host)
    {
        foreach (var (path, asset) in Assets)
        {
            app.MapGet(path, async context =>
            {
                Secure(context.Response);
                context.Response.ContentType = asset.Type;
                context.Response.Headers.CacheControl = "no-cache";
                await using var stream = typeof(DashboardEndpoints).Assembly.GetManifestResourceStream("RedisFailover.Dashboard." + asset.Resource)
                    ?? throw new InvalidOperationException($"The dashboard's {asset.Resource} is not embedded.");
                await stream.CopyToAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
            }).RequireHost(host);
        }

        app.MapGet("/api/status", (HttpContext context, Callers callers, RefusalLog refusals, Coordinator coordinator) =>
            Read(context, callers, refusals, () =>
            {
                if (!coordinator.Leadership.Leads)
                {
                    return (StatusCodes.Status503ServiceUnavailable, Error($"this coordinator does not lead: {coordinator.Leadership.Describe}"));
                }

                var json = new StringBuilder("[");
                foreach (var resource in coordinator.Resources.OrderBy(r => r.Name, StringComparer.Ordinal))
                {
                    json.Append(json.Length > 1 ? "," : "").Append(AdminCommand.Json.Status(AdminService.Status(resource)));
                }

                return (StatusCodes.Status200OK, json.Append(']').ToString());
            })).RequireHost(host);

        app.MapGet("/api/history/{resource}", (string resource, HttpContext context, Callers callers, RefusalLog refusals, Coordinator coordinator, ICoordinatorStore store) =>
            Read(context, callers, refusals, () =>
            {
                if (!coordinator.Configured.Contains(resource, StringComparer.Ordinal))
                {
                    return (StatusCodes.Status404NotFound, Error($"unknown resource '{WireLimits.Printable(resource, 80)}'"));
                }

                try
                {
                    // The last 50 incidents: a page, not an archive (history has them all).
                    var incidents = AdminService.Incidents(store, resource);
                    var recent = new Protos.IncidentList();
                    recent.Incidents.AddRange(incidents.Incidents.Skip(Math.Max(0, incidents.Incidents.Count - 50)));
                    return (StatusCodes.Status200OK, AdminCommand.Json.Incidents(recent));
                }
                catch (IOException ex)
                {
                    return (StatusCodes.Status503ServiceUnavailable, Error($"the store does not answer: {WireLimits.Printable(ex.Message, 200)}"));
                }
            })).RequireHost(host);

        app.MapGet("/api/plan/{resource}", (string resource, HttpContext context, Callers callers, RefusalLog refusals, Coordinator coordinator, PlanHistory history) =>
            Read(context, callers, refusals, () => coordinator.Configured.Contains(resource, StringComparer.Ordinal)
                ? (StatusCodes.Status200OK, Plan(history, resource))
                : (StatusCodes.Status404NotFound, Error($"unknown resource '{WireLimits.Printable(resource, 80)}'")))).RequireHost(host);
    }

    /// <summary>Answers with <paramref name="read"/>'s JSON for a caller with the read role, else 401 or 403, named.</summary>
    private static IResult Read(HttpContext context, Callers callers, RefusalLog refusals, Func<(int Status, string Json)> read)
    {
        Secure(context.Response);
        context.Response.Headers.CacheControl = "no-store";
        var peer = $"{context.Connection.RemoteIpAddress}:{context.Connection.RemotePort}";
        var caller = callers.Identify(context.Request.Headers.Authorization.FirstOrDefault(), context.Connection.ClientCertificate, out var why);
        if (caller is null)
        {
            refusals.Refused(peer, $"dashboard: Unauthenticated: {why}");
            return Results.Content(Error($"not authenticated: {why}"), "application/json", Encoding.UTF8, StatusCodes.Status401Unauthorized);
        }

        if (!caller.MayRead)
        {
            refusals.Refused(peer, $"dashboard: PermissionDenied: {caller}");
            return Results.Content(Error($"{caller.Name} may not read the dashboard: it needs the read role"), "application/json", Encoding.UTF8, StatusCodes.Status403Forbidden);
        }

        var (status, json) = read();
        return Results.Content(json, "application/json", Encoding.UTF8, status);
    }

    private static void Secure(HttpResponse response)
    {
        response.Headers.ContentSecurityPolicy = Policy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers.XFrameOptions = "DENY";
    }

    private static string Error(string message)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("error", message);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string Plan(PlanHistory history, string resource)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("resolution_seconds", history.Resolution.TotalSeconds);
            writer.WriteStartArray("points");
            foreach (var point in history.Points(resource))
            {
                writer.WriteStartObject();
                writer.WriteString("at", point.At.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture));
                writer.WriteString("node", point.Node);
                writer.WriteString("plan", point.Plan);
                writer.WriteNumber("used_memory_bytes", point.UsedMemory);
                writer.WriteNumber("memory_limit_bytes", point.MemoryLimit ?? 0);
                writer.WriteNumber("active_connections", point.Connections);
                writer.WriteNumber("connection_limit", point.ConnectionLimit ?? 0);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
