using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using StackExchange.Redis;

namespace RedisAgent.Connection;

/// <summary>
/// Health checks for a load balancer in front of a resource's nodes (deploy/haproxy/), in the
/// manner of Patroni's REST API: <c>GET /primary</c> answers 200 only while this node is a primary
/// that takes writes (its own <c>ROLE</c>, asked at each check, says master, and the agent has not
/// fenced it); <c>GET /replica</c> answers 200 only while it is a replica whose link to its primary
/// is up. Anything else, an unreachable node included, is 503 with the reason. They say nothing of
/// the data, so they stay open like <c>/healthz</c>.
/// </summary>
internal static class RoleChecks
{
    private static readonly TimeSpan AskFor = TimeSpan.FromSeconds(1);

    public static IEndpointRouteBuilder MapRoleChecks(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapMethods("/primary", ["GET", "HEAD", "OPTIONS"], (RedisConnection connection, NodeControl control) => CheckAsync(Wanted.Primary, connection, control));
        endpoints.MapMethods("/replica", ["GET", "HEAD", "OPTIONS"], (RedisConnection connection, NodeControl control) => CheckAsync(Wanted.Replica, connection, control));
        return endpoints;
    }

    internal enum Wanted
    {
        Primary,
        Replica,
    }

    /// <summary>What <c>ROLE</c> said: the role, and for a replica its link state (<c>connected</c> when up); or why it could not be asked.</summary>
    internal readonly record struct RoleReading(string? Role, string? LinkState, string? Error);

    /// <summary>Whether the node is what is wanted, and the line that says so or why not.</summary>
    internal static (bool Yes, string Text) Decide(Wanted wanted, RoleReading reading, bool fenced) => (wanted, reading) switch
    {
        (_, { Error: { } error }) => (false, $"unknown: the node did not answer ROLE ({error})"),
        (Wanted.Primary, { Role: "master" }) when fenced => (false, "not a primary that takes writes: fenced by its agent until the coordinator lifts it"),
        (Wanted.Primary, { Role: "master" }) => (true, "primary"),
        (Wanted.Replica, { Role: "slave", LinkState: "connected" }) => (true, "replica"),
        (Wanted.Replica, { Role: "slave" }) => (false, $"replica, but its link to the primary is {reading.LinkState ?? "unknown"}"),
        _ => (false, $"not a {(wanted == Wanted.Primary ? "primary" : "replica")}: ROLE says {reading.Role ?? "nothing"}"),
    };

    private static async Task<IResult> CheckAsync(Wanted wanted, RedisConnection connection, NodeControl control)
    {
        var (yes, text) = Decide(wanted, await ReadAsync(connection).ConfigureAwait(false), control.Fenced);
        return Results.Text(text + "\n", statusCode: yes ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<RoleReading> ReadAsync(RedisConnection connection)
    {
        try
        {
            var server = await connection.ServerAsync().WaitAsync(AskFor).ConfigureAwait(false);
            var reply = await server.ExecuteAsync("ROLE").WaitAsync(AskFor).ConfigureAwait(false);
            if (reply.Resp2Type != ResultType.Array || reply.Length == 0)
            {
                return new RoleReading(null, null, "ROLE answered something other than an array");
            }

            var role = (string?)reply[0];
            return new RoleReading(role, role == "slave" && reply.Length > 3 ? (string?)reply[3] : null, null);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or IOException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            return new RoleReading(null, null, ex.Message);
        }
    }
}
