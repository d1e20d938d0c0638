namespace RedisAgent.Testing.Hosts;

/// <summary>A "host" of a test: a loopback alias with its own sshd and redis-server.</summary>
public sealed class TestHost : IAsyncDisposable
{
    private TestHost(string name, string address, SshServer ssh, RedisServer redis)
    {
        Name = name;
        Address = address;
        Ssh = ssh;
        Redis = redis;
    }

    public string Name { get; }

    public string Address { get; }

    public SshServer Ssh { get; }

    public RedisServer Redis { get; }

    /// <summary>
    /// Three hosts on 127.0.0.11-13 (host-1 to host-3, Redis on loopback too), as the comparisons run
    /// them: host-1 the primary, host-2 and host-3 its replicas with their links up. Added to
    /// <paramref name="hosts"/> as each starts, so that the caller's cleanup stops them all whatever fails.
    /// </summary>
    public static async Task StartReplicatedAsync(List<TestHost> hosts, SshKeys keys, IReadOnlyList<string> arguments)
    {
        for (var i = 1; i <= 3; i++)
        {
            hosts.Add(await StartAsync($"host-{i}", $"127.0.0.{10 + i}", keys, alsoLoopback: true, arguments).ConfigureAwait(false));
        }

        var primary = hosts[0];
        foreach (var replica in hosts.Skip(1))
        {
            await Resp.CommandAsync(replica.Address, replica.Redis.Port, "REPLICAOF", primary.Address, primary.Redis.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)).ConfigureAwait(false);
        }

        foreach (var replica in hosts.Skip(1))
        {
            await Poll.UntilAsync(async () =>
            {
                await using var client = await RespClient.ConnectAsync(replica.Address, replica.Redis.Port).ConfigureAwait(false);
                return (await client.InfoAsync("replication").ConfigureAwait(false)).GetValueOrDefault("master_link_status") == "up";
            }, TimeSpan.FromSeconds(20), () => $"{replica.Name} replicates from host-1").ConfigureAwait(false);
        }
    }

    /// <summary>Starts sshd and a daemonized redis-server (so that a command over SSH can start it again) on the alias.</summary>
    /// <param name="alsoLoopback">Redis listens on 127.0.0.1 too, as a node's own processes reach it locally while the network is cut.</param>
    /// <param name="arguments">More redis-server arguments (they win over the fixture's own, e.g. <c>--appendonly yes</c>).</param>
    public static async Task<TestHost> StartAsync(string name, string address, SshKeys keys, bool alsoLoopback = false, IReadOnlyList<string>? arguments = null, string? password = null, TestCertificates? tls = null)
    {
        var ssh = await SshServer.StartAsync(address, keys.ClientKey + ".pub").ConfigureAwait(false);
        try
        {
            var redis = await RedisServer.StartAsync(new RedisServerOptions
            {
                Host = address,
                Daemonize = true,
                Password = password,
                Tls = tls,
                Arguments = [.. alsoLoopback ? ["--bind", address, "127.0.0.1"] : Array.Empty<string>(), .. tls is null ? Array.Empty<string>() : ["--tls-replication", "yes"], .. arguments ?? []],
            }).ConfigureAwait(false);
            return new TestHost(name, address, ssh, redis);
        }
        catch
        {
            await ssh.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Settings for an agent's <c>Peers:N</c> entry (or, with prefix <c>Ssh</c>, for its own node's host).</summary>
    public Dictionary<string, string?> SshSettings(string prefix, string keyFile, string? hostKeySha256 = null) => new()
    {
        [$"{prefix}:Host"] = Address,
        [$"{prefix}:Port"] = Ssh.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        [$"{prefix}:User"] = "root",
        [$"{prefix}:KeyFile"] = keyFile,
        [$"{prefix}:HostKeySha256"] = hostKeySha256 ?? Ssh.HostKeySha256,
        [$"{prefix}:ConnectTimeout"] = "00:00:01",
        [$"{prefix}:CommandTimeout"] = "00:00:01",
        [$"{prefix}:Interval"] = "00:00:00.200",
    };

    public async ValueTask DisposeAsync()
    {
        await Redis.DisposeAsync().ConfigureAwait(false);
        await Ssh.DisposeAsync().ConfigureAwait(false);
    }
}
