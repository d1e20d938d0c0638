using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using RedisFailover.Protos;

namespace RedisFailover.Cli;

/// <summary>
/// <c>redis-failover status -r RESOURCE</c> and <c>redis-failover history -r RESOURCE</c>, against a
/// running coordinator (<c>--url</c>, default http://127.0.0.1:9380; the token from
/// <c>FAILOVER_TOKEN</c> or <c>--token-file</c>).
/// </summary>
internal static class AdminCommand
{
    public static readonly string[] Verbs = ["status", "history"];

    public const int UsageExitCode = 64;

    /// <summary>sysexits.h EX_UNAVAILABLE: no coordinator answered.</summary>
    public const int UnavailableExitCode = 69;

    public static async Task<int> RunAsync(string[] args)
    {
        string? Option(params string[] names)
        {
            var index = Array.FindIndex(args, a => names.Contains(a));
            return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
        }

        const string usage = "usage: redis-failover status|history -r RESOURCE [--url http://127.0.0.1:9380] [--token-file FILE, or $FAILOVER_TOKEN] [--ca-file PEM, or $FAILOVER_CA_FILE, for https://] [--cert-file PEM --key-file PEM: a client certificate instead of a token]";
        if (args.Contains("--token"))
        {
            // A value on the command line is in /proc/PID/cmdline: every local user's ps shows it.
            await Console.Error.WriteLineAsync("redis-failover: --token would show the token to every user of this machine (ps); use --token-file FILE or $FAILOVER_TOKEN\n" + usage).ConfigureAwait(false);
            return UsageExitCode;
        }

        var resource = Option("-r", "--resource");
        var url = Option("--url") ?? "http://127.0.0.1:9380";
        var tokenFile = Option("--token-file");
        string? token;
        try
        {
            token = tokenFile is not null ? (await File.ReadAllTextAsync(tokenFile).ConfigureAwait(false)).Trim() : Environment.GetEnvironmentVariable("FAILOVER_TOKEN");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"redis-failover: --token-file '{tokenFile}' cannot be read: {ex.Message}").ConfigureAwait(false);
            return UsageExitCode;
        }

        var certFile = Option("--cert-file") ?? Environment.GetEnvironmentVariable("FAILOVER_CERT_FILE");
        var keyFile = Option("--key-file") ?? Environment.GetEnvironmentVariable("FAILOVER_KEY_FILE");
        if (resource is null || (token is not { Length: > 0 } && certFile is null))
        {
            await Console.Error.WriteLineAsync(usage).ConfigureAwait(false);
            return UsageExitCode;
        }

        // https://: the coordinator is verified (against --ca-file, else the system's roots) before the token leaves.
        var caFile = Option("--ca-file") ?? Environment.GetEnvironmentVariable("FAILOVER_CA_FILE");
        RedisShared.Security.TlsTrust trust;
        try
        {
            trust = RedisShared.Security.TlsTrust.Create(caFile, null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or System.Security.Cryptography.CryptographicException)
        {
            await Console.Error.WriteLineAsync($"redis-failover: --ca-file '{caFile}' cannot be used: {ex.Message}").ConfigureAwait(false);
            return UsageExitCode;
        }

        string? untrusted = null;
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => (untrusted = trust.Problem(certificate, errors)) is null;
        if (certFile is not null)
        {
            try
            {
                using var pem = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(certFile, keyFile);
                handler.SslOptions.ClientCertificates = [System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(
                    pem.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12), null)];
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                await Console.Error.WriteLineAsync($"redis-failover: --cert-file '{certFile}' (key '{keyFile ?? certFile}') cannot be used: {ex.Message}").ConfigureAwait(false);
                return UsageExitCode;
            }
        }

        using var channel = GrpcChannel.ForAddress(url, new GrpcChannelOptions { HttpHandler = handler });
        var client = new Admin.AdminClient(channel);
        var headers = new Metadata();
        if (token is { Length: > 0 })
        {
            headers.Add("authorization", "Bearer " + token);
        }

        try
        {
            if (args[0] == "status")
            {
                var status = await client.GetStatusAsync(new ResourceRequest { Resource = resource }, headers).ConfigureAwait(false);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{status.Resource}: {(status.State != Protos.ResourceState.Unspecified ? status.State.ToString() : status.StateName)}, term {status.Term}, primary {status.Primary} ({status.PrimaryAddress}){(status.Paused ? ", automatic failover PAUSED" : "")}"));
                if (status.Reason.Length > 0)
                {
                    Console.WriteLine("  " + status.Reason);
                }

                foreach (var node in status.Nodes)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {node.Node,-12} {node.Address,-22} zone {node.Zone,-6} {Vocabulary.Read(node.Role, node.RoleName).LegacyName(),-8} offset {node.ReplicationOffset,-12} {(node.Connected ? "agent connected" : "agent NOT connected")}, {Vocabulary.Read(node.LocalVerdict, node.LocalVerdictName)}"));
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
        catch (RpcException) when (untrusted is not null)
        {
            await Console.Error.WriteLineAsync($"redis-failover: the coordinator at {url} is not trusted, nothing was sent to it: {untrusted}").ConfigureAwait(false);
            return UnavailableExitCode;
        }
        catch (RpcException ex)
        {
            await Console.Error.WriteLineAsync($"redis-failover: {ex.StatusCode}: {ex.Status.Detail}").ConfigureAwait(false);
            return ex.StatusCode == StatusCode.Unavailable ? UnavailableExitCode : 1;
        }
    }
}
