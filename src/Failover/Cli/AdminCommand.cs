using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using RedisFailover.Protos;

namespace RedisFailover.Cli;

/// <summary>
/// The operators' verbs, modelled on Heroku's <c>redis:</c> commands, against a running coordinator
/// (<c>--url</c>, default http://127.0.0.1:9380; the token from <c>FAILOVER_TOKEN</c> or
/// <c>--token-file</c>): <c>status</c>, <c>info</c>, <c>history</c>, <c>timeout</c>, <c>maxmemory</c>,
/// <c>promote</c>, <c>pause</c>, <c>resume</c>, <c>wait</c>, <c>nodes</c>; <c>--json</c> on each.
/// </summary>
internal static partial class AdminCommand
{
    public static readonly string[] Verbs = ["status", "info", "history", "timeout", "maxmemory", "switchover", "promote", "pause", "resume", "wait", "nodes"];

    /// <summary>sysexits.h EX_TEMPFAIL: <c>wait</c> ran out of time before the resource was Healthy.</summary>
    public const int TimedOutExitCode = RedisShared.Hosting.ExitCodes.TempFail;

    public const int UsageExitCode = RedisShared.Hosting.ExitCodes.Usage;

    /// <summary>sysexits.h EX_UNAVAILABLE: no coordinator answered.</summary>
    public const int UnavailableExitCode = 69;

    public static async Task<int> RunAsync(string[] args)
    {
        string? Option(params string[] names)
        {
            var index = Array.FindIndex(args, a => names.Contains(a));
            return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
        }

        const string usage = """
            usage: redis-failover VERB -r RESOURCE [--json] [--url http://127.0.0.1:9380] [--token-file FILE, or $FAILOVER_TOKEN]
                                 [--ca-file PEM, or $FAILOVER_CA_FILE, for https://] [--cert-file PEM --key-file PEM: a client certificate instead of a token]
              status                      state, term, primary, nodes, and why a failover could not happen now
              info                        as heroku redis:info: status, settings, version, persistence, nodes
              history                     every incident's decision journal
              timeout --seconds N         Redis's idle timeout on every node, kept across failovers (0: never)
              maxmemory --policy P        the eviction policy: noeviction, allkeys-lru, volatile-lru, allkeys-lfu, volatile-lfu, allkeys-random, volatile-random, volatile-ttl
              switchover [--to NODE] [--catch-up-ms N]   planned, losing no acknowledged write: the primary's writes
                                          paused until NODE (default: the in-sync standby furthest ahead) has caught up
                                          (at most N ms, default 5000), then NODE promoted; else rolled back
              promote NODE [--confirm RESOURCE]   force NODE to be the primary now (asks to type the resource's name)
              pause | resume              automatic failover off (maintenance) or on again
              wait [--timeout SECONDS] [--node NODE]   block until the resource is Healthy, and NODE (if given) a
                                          replica in sync (default 600 s; exit 75 if not)
              nodes                       the nodes, with role, offset and whether each is in sync
              nodes add NODE --address HOST:PORT [--zone Z]   a node joins at run time (kept in the store): made a
                                          replica of the primary once its agent connects
              nodes remove NODE [--force] a node leaves (never the primary; --force: even the last standby in sync)
            """;
        if (args.Contains("--token"))
        {
            // A value on the command line is in /proc/PID/cmdline: every local user's ps shows it.
            await Console.Error.WriteLineAsync("redis-failover: --token would show the token to every user of this machine (ps); use --token-file FILE or $FAILOVER_TOKEN\n" + usage).ConfigureAwait(false);
            return UsageExitCode;
        }

        // An option named without its value is the caller's mistake, not a request for its default
        // (a trailing "--url" would otherwise ask the default coordinator).
        if (ValueOptions.FirstOrDefault(name => Array.IndexOf(args, name) is var at && at >= 0 && (at + 1 >= args.Length || args[at + 1].StartsWith("--", StringComparison.Ordinal))) is { } bare)
        {
            await Console.Error.WriteLineAsync($"redis-failover: {bare} needs a value\n" + usage).ConfigureAwait(false);
            return UsageExitCode;
        }

        var resource = Option("-r", "--resource");
        var url = Option("--url") ?? "http://127.0.0.1:9380";
        if (UrlProblem(url) is { } badUrl)
        {
            await Console.Error.WriteLineAsync("redis-failover: " + badUrl).ConfigureAwait(false);
            return UsageExitCode;
        }

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
            var missing = resource is null
                ? $"{args[0]} needs -r RESOURCE"
                : $"no credentials: set $FAILOVER_TOKEN, or give --token-file FILE{(tokenFile is null ? "" : " (it is empty)")}, or --cert-file PEM --key-file PEM";
            await Console.Error.WriteLineAsync($"redis-failover: {missing}\n" + usage).ConfigureAwait(false);
            return UsageExitCode;
        }

        // Values are checked here, before anything is sent: a bad one is the caller's, named, exit 64.
        var verb = Arguments(args, Option);
        if (verb is { Problem: { } problem })
        {
            await Console.Error.WriteLineAsync("redis-failover: " + problem).ConfigureAwait(false);
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
            var json = args.Contains("--json");
            var request = new ResourceRequest { Resource = resource };
            switch (args[0])
            {
                case "status" or "info":
                    var status = await client.GetStatusAsync(request, headers).ConfigureAwait(false);
                    Console.Write(json ? Json.Status(status) : args[0] == "info" ? Text.Info(status) : Text.Status(status));
                    return 0;
                case "history":
                    var incidents = await client.ListIncidentsAsync(request, headers).ConfigureAwait(false);
                    Console.Write(json ? Json.Incidents(incidents) : Text.Incidents(incidents));
                    return 0;
                case "timeout":
                    var timedOut = await client.SetSettingsAsync(new SetSettingsRequest { Resource = resource, Settings = new Settings { TimeoutSeconds = verb.Seconds!.Value } }, headers).ConfigureAwait(false);
                    Console.Write(json ? Json.Status(timedOut) : Text.Timeout(resource, verb.Seconds!.Value));
                    return 0;
                case "maxmemory":
                    var evicting = await client.SetSettingsAsync(new SetSettingsRequest { Resource = resource, Settings = new Settings { MaxmemoryPolicy = verb.Policy! } }, headers).ConfigureAwait(false);
                    Console.Write(json ? Json.Status(evicting) : Text.Maxmemory(resource, verb.Policy!));
                    return 0;
                case "switchover":
                    var switched = await client.SwitchoverAsync(new SwitchoverRequest { Resource = resource, To = verb.Node ?? "", CatchUpTimeoutMs = verb.CatchUpMs }, headers).ConfigureAwait(false);
                    Console.Write(json ? Json.Status(switched) : string.Create(CultureInfo.InvariantCulture, $"Switching {resource} over to {switched.Primary}... done, term {switched.Term}. No acknowledged write was left behind.\n"));
                    return 0;
                case "promote":
                    if (verb.Confirm is null)
                    {
                        await Console.Error.WriteLineAsync($" !    WARNING: {verb.Node} becomes the primary of {resource} now, without waiting for it to catch up: writes the current primary acknowledged and {verb.Node} has not received are lost.\n !    To proceed, type {resource} or re-run this command with --confirm {resource}").ConfigureAwait(false);
                        await Console.Error.WriteAsync("> ").ConfigureAwait(false);
                        verb = verb with { Confirm = (await Console.In.ReadLineAsync().ConfigureAwait(false))?.Trim() ?? "" };
                    }

                    if (!string.Equals(verb.Confirm, resource, StringComparison.Ordinal))
                    {
                        await Console.Error.WriteLineAsync($"redis-failover: confirmation did not match {resource}: nothing was promoted").ConfigureAwait(false);
                        return 1;
                    }

                    var promoted = await client.PromoteAsync(new PromoteRequest { Resource = resource, Node = verb.Node! }, headers).ConfigureAwait(false);
                    Console.Write(json ? Json.Status(promoted) : string.Create(CultureInfo.InvariantCulture, $"Promoting {verb.Node} to primary of {resource}... done, term {promoted.Term}.\n"));
                    return 0;
                case "pause" or "resume":
                    var changed = args[0] == "pause"
                        ? await client.PauseFailoverAsync(request, headers).ConfigureAwait(false)
                        : await client.ResumeFailoverAsync(request, headers).ConfigureAwait(false);
                    Console.Write(json ? Json.Status(changed) : changed.Paused
                        ? $"Automatic failover of {resource} paused: a lost primary stays down until redis-failover resume -r {resource}.\n"
                        : $"Automatic failover of {resource} resumed.\n");
                    return 0;
                case "nodes" when verb.Address is not null:
                    var added = await client.AddNodeAsync(new AddNodeRequest { Resource = resource, Node = verb.Node!, Address = verb.Address, Zone = verb.Zone ?? "" }, headers).ConfigureAwait(false);
                    Console.Write(json ? Json.Status(added) : $"Adding {verb.Node} ({verb.Address}) to {resource}... done. It becomes a replica of {added.Primary} once its agent connects; redis-failover wait -r {resource} --node {verb.Node} returns once it is in sync.\n");
                    return 0;
                case "nodes" when verb.Node is not null:
                    var removed = await client.RemoveNodeAsync(new RemoveNodeRequest { Resource = resource, Node = verb.Node, Force = verb.Force }, headers).ConfigureAwait(false);
                    Console.Write(json ? Json.Status(removed) : $"Removing {verb.Node} from {resource}... done. It is no longer watched or promoted; its Redis is left running, to be stopped by you.\n");
                    return 0;
                case "nodes":
                    var listed = await client.GetStatusAsync(request, headers).ConfigureAwait(false);
                    Console.Write(json ? Json.Status(listed) : Text.Nodes(listed));
                    return 0;
                default:
                    return await WaitAsync(client, request, headers, verb.Timeout, verb.Node, json).ConfigureAwait(false);
            }
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

    /// <summary>What a verb was given, and what is wrong with it (named) when it cannot be sent.</summary>
    internal sealed record VerbArguments(long? Seconds = null, string? Policy = null, string? Node = null, string? Confirm = null, int Timeout = 600, long CatchUpMs = 0, string? Problem = null, string? Address = null, string? Zone = null, bool Force = false);

    /// <summary>Every option of the verbs that takes a value.</summary>
    internal static readonly string[] ValueOptions =
        ["-r", "--resource", "--url", "--token-file", "--ca-file", "--cert-file", "--key-file", "--seconds", "--policy", "--confirm", "--to", "--catch-up-ms", "--timeout", "--node", "--address", "--zone"];

    /// <summary>Why <paramref name="url"/> cannot name a coordinator (an http:// or https:// address with a host); null when it can.</summary>
    internal static string? UrlProblem(string url) =>
        !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0
            ? $"--url '{RedisShared.Hosting.Quoted.Printable(url)}' is not a coordinator's address (http://host:port or https://host:port)"
            : uri.UserInfo.Length > 0
                ? "--url must not hold a user or password (the token comes from $FAILOVER_TOKEN or --token-file)"
                : uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0
                    ? $"--url '{RedisShared.Hosting.Quoted.Printable(url)}' has a path: a coordinator's address is http://host:port or https://host:port"
                    : null;

    internal static VerbArguments Arguments(string[] args, Func<string[], string?> option)
    {
        switch (args[0])
        {
            case "timeout":
                var seconds = option(["--seconds"]);
                return long.TryParse(seconds, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= Hosting.ResourcesOptionsValidator.MaxTimeoutSeconds
                    ? new VerbArguments(Seconds: value)
                    : new VerbArguments(Problem: $"timeout needs --seconds N, a whole number of seconds from 0 (never) to {Hosting.ResourcesOptionsValidator.MaxTimeoutSeconds} (got '{RedisShared.Hosting.Quoted.Printable(seconds ?? "")}')");
            case "maxmemory":
                var policy = option(["--policy"]);
                return policy is not null && Hosting.ResourcesOptionsValidator.MaxmemoryPolicies.Contains(policy, StringComparer.Ordinal)
                    ? new VerbArguments(Policy: policy)
                    : new VerbArguments(Problem: $"maxmemory needs --policy, one of {string.Join(", ", Hosting.ResourcesOptionsValidator.MaxmemoryPolicies)} (got '{RedisShared.Hosting.Quoted.Printable(policy ?? "")}')");
            case "promote":
                var node = args.Length > 1 && !args[1].StartsWith('-') ? args[1] : null;
                return node is null
                    ? new VerbArguments(Problem: "promote needs the node: redis-failover promote NODE -r RESOURCE [--confirm RESOURCE]")
                    : new VerbArguments(Node: node, Confirm: option(["--confirm"]));
            case "switchover":
                var catchUp = option(["--catch-up-ms"]);
                return catchUp is null || (long.TryParse(catchUp, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && ms is > 0 and <= 60_000)
                    ? new VerbArguments(Node: option(["--to"]), CatchUpMs: catchUp is null ? 0 : long.Parse(catchUp, CultureInfo.InvariantCulture))
                    : new VerbArguments(Problem: $"switchover --catch-up-ms must be 1 to 60000 (got '{RedisShared.Hosting.Quoted.Printable(catchUp)}')");
            case "wait":
                var timeout = option(["--timeout"]);
                var waitFor = option(["--node"]);
                return waitFor is not null && !Hosting.ResourcesOptionsValidator.IsNodeName(waitFor)
                    ? new VerbArguments(Problem: $"wait --node must be a node's name (got '{RedisShared.Hosting.Quoted.Printable(waitFor)}')")
                    : timeout is null ? new VerbArguments(Node: waitFor)
                    : int.TryParse(timeout, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) && limit is > 0 and <= 86_400
                        ? new VerbArguments(Timeout: limit, Node: waitFor)
                        : new VerbArguments(Problem: $"wait --timeout must be 1 to 86400 seconds (got '{RedisShared.Hosting.Quoted.Printable(timeout)}')");
            case "nodes":
                return Nodes(args, option);
            default:
                return new VerbArguments();
        }
    }

    /// <summary><c>nodes</c>, <c>nodes add NODE --address HOST:PORT [--zone Z]</c>, <c>nodes remove NODE [--force]</c>.</summary>
    private static VerbArguments Nodes(string[] args, Func<string[], string?> option)
    {
        var sub = args.Length > 1 && !args[1].StartsWith('-') ? args[1] : null;
        var node = args.Length > 2 && !args[2].StartsWith('-') ? args[2] : null;
        switch (sub)
        {
            case null:
                return new VerbArguments();
            case "add" or "remove" when node is null || !Hosting.ResourcesOptionsValidator.IsNodeName(node):
                return new VerbArguments(Problem: $"nodes {sub} needs the node's name, 1 to 64 letters, digits, '-', '_' or '.' (got '{RedisShared.Hosting.Quoted.Printable(node ?? "")}')");
            case "add":
                var address = option(["--address"]);
                var zone = option(["--zone"]);
                return !Hosting.ResourcesOptionsValidator.IsAddress(address)
                    ? new VerbArguments(Problem: $"nodes add needs --address HOST:PORT, the port from 1 to 65535 (got '{RedisShared.Hosting.Quoted.Printable(address ?? "")}')")
                    : zone is { Length: > 64 } ? new VerbArguments(Problem: "nodes add --zone must be at most 64 characters")
                    : new VerbArguments(Node: node, Address: address, Zone: zone);
            case "remove":
                return new VerbArguments(Node: node, Force: args.Contains("--force"));
            default:
                return new VerbArguments(Problem: $"nodes takes add or remove, or nothing to list them (got '{RedisShared.Hosting.Quoted.Printable(sub)}')");
        }
    }

    /// <summary><c>heroku redis:wait</c>: polls the status until the resource is Healthy (and <paramref name="node"/>, when given, a replica in sync), at most <paramref name="seconds"/>.</summary>
    private static async Task<int> WaitAsync(Admin.AdminClient client, ResourceRequest request, Metadata headers, int seconds, string? node, bool json)
    {
        if (!json)
        {
            Console.Write($"Waiting for {request.Resource}... ");
        }

        var deadline = DateTimeOffset.UtcNow.AddSeconds(seconds);
        ResourceStatus status;
        while (WaitingFor(status = await client.GetStatusAsync(request, headers).ConfigureAwait(false), node, seconds) is { } waiting)
        {
            if (DateTimeOffset.UtcNow >= deadline)
            {
                Console.Write(json ? Json.Status(status) : "\n");
                await Console.Error.WriteLineAsync("redis-failover: " + waiting).ConfigureAwait(false);
                return TimedOutExitCode;
            }

            await Task.Delay(500).ConfigureAwait(false);
        }

        Console.Write(json ? Json.Status(status) : "done\n");
        return 0;
    }

    /// <summary>What <c>wait</c> still waits for, in words; null when nothing.</summary>
    private static string? WaitingFor(ResourceStatus status, string? node, int seconds) =>
        status.State != Protos.ResourceState.Healthy ? string.Create(CultureInfo.InvariantCulture, $"{status.Resource} is {status.State}, not Healthy, after {seconds} s: {status.Reason}")
        : node is null ? null
        : status.Nodes.FirstOrDefault(n => n.Node == node) is not { } seen ? $"{status.Resource} has no node {node}"
        : seen.Node == status.Primary ? null
        : !seen.InSync ? string.Create(CultureInfo.InvariantCulture, $"{node} is not a replica in sync with {status.Primary} after {seconds} s ({(seen.Connected ? $"offset {seen.ReplicationOffset}" : "its agent is not connected")})")
        : null;
}
