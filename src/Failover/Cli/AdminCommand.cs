using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using RedisFailover.Protos;

namespace RedisFailover.Cli;

/// <summary>
/// <c>redis-failover status -r RESOURCE</c> and <c>redis-failover history -r RESOURCE</c>, against a
/// running coordinator (<c>--url</c>, default http://127.0.0.1:9380; the token from
/// <c>FAILOVER_TOKEN</c> or <c>--token</c>).
/// </summary>
internal static class AdminCommand
{
    public static readonly string[] Verbs = ["status", "history"];

    public static async Task<int> RunAsync(string[] args)
    {
        string? Option(params string[] names)
        {
            var index = Array.FindIndex(args, a => names.Contains(a));
            return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
        }

        var resource = Option("-r", "--resource");
        var url = Option("--url") ?? "http://127.0.0.1:9380";
        var token = Option("--token") ?? Environment.GetEnvironmentVariable("FAILOVER_TOKEN");
        if (resource is null || token is null)
        {
            await Console.Error.WriteLineAsync("usage: redis-failover status|history -r RESOURCE [--url http://127.0.0.1:9380] [--token T, or FAILOVER_TOKEN]").ConfigureAwait(false);
            return 64;
        }

        using var channel = GrpcChannel.ForAddress(url);
        var client = new Admin.AdminClient(channel);
        var headers = new Metadata { { "authorization", "Bearer " + token } };
        try
        {
            if (args[0] == "status")
            {
                var status = await client.GetStatusAsync(new ResourceRequest { Resource = resource }, headers).ConfigureAwait(false);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{status.Resource}: {status.State}, term {status.Term}, primary {status.Primary} ({status.PrimaryAddress}){(status.Paused ? ", automatic failover PAUSED" : "")}"));
                if (status.Reason.Length > 0)
                {
                    Console.WriteLine("  " + status.Reason);
                }

                foreach (var node in status.Nodes)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {node.Node,-12} {node.Address,-22} zone {node.Zone,-6} {node.Role,-8} offset {node.ReplicationOffset,-12} {(node.Connected ? "agent connected" : "agent NOT connected")}, {node.LocalVerdict}"));
                }
            }
            else
            {
                var incidents = await client.ListIncidentsAsync(new ResourceRequest { Resource = resource }, headers).ConfigureAwait(false);
                foreach (var incident in incidents.Incidents)
                {
                    Console.WriteLine($"{incident.Id}: {incident.Outcome} (opened {incident.Opened.ToDateTimeOffset():yyyy-MM-ddTHH:mm:ss.fffZ})");
                    foreach (var entry in incident.Entries)
                    {
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {entry.At.ToDateTimeOffset():HH:mm:ss.fff} term {entry.Term} {entry.Kind,-10} {entry.Text}"));
                    }
                }
            }

            return 0;
        }
        catch (RpcException ex)
        {
            await Console.Error.WriteLineAsync($"redis-failover: {ex.StatusCode}: {ex.Status.Detail}").ConfigureAwait(false);
            return 1;
        }
    }
}
