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
