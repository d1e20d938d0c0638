extern alias agent;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;
using RedisAgent.Tests.HostProbing;
using RedisFailover.Protos;

namespace RedisAgent.Tests.Trust;

/// <summary>
/// Issue 13's end-to-end case: three hosts whose Redis requires a password and serves TLS only, agents joined to a
/// coordinator on https:// by client certificate (mTLS), no shared token anywhere. A writer that
/// only knows the published URL (with the password in it) keeps writing through a host-loss
/// failover, and the old primary, back, replicates from the new one with no manual step (its agent
/// gives it the resource's password as masterauth).
/// </summary>
[Collection(LoopbackHostsCollection.Name)]
public sealed class SecureFailoverTests(LoopbackHosts hosts, Xunit.Abstractions.ITestOutputHelper output) : RedisAgent.Tests.Failover.ThreeHostResource(hosts)
{
    /// <summary>Characters a URL must escape, so that the published URL is checked for them.</summary>
    private const string Password = "pa:ss/w@rd%0123456789";

    private const string ReadToken = "reader-token-0123456789";

    private readonly TestCertificates _certificates = new(System.Net.IPAddress.Parse("127.0.0.11"), System.Net.IPAddress.Parse("127.0.0.12"), System.Net.IPAddress.Parse("127.0.0.13"));
    private readonly TempDirectory _files = new("secure");

    private protected override Task<TestHost> StartHostAsync(int index) => Machines.StartAsync(index, alsoLoopback: true, password: Password, tls: _certificates);

    /// <summary>
    /// The operator's own setup, as a redis.conf would have it: the replicas log in to host-1.
    /// host-1 itself has no masterauth: only its agent can give it one, when it is made a replica.
    /// </summary>
    private protected override async Task JoinReplicaAsync(TestHost replica, TestHost primary)
    {
        await CommandAsync(replica, "CONFIG", "SET", "masterauth", Password);
        await CommandAsync(replica, "REPLICAOF", primary.Address, primary.Redis.Port.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>No shared token: agents by client certificate, the test as a reader by its own token; Redis with a password and TLS only.</summary>
    private protected override Dictionary<string, string?> CoordinatorSettings()
    {
        File.WriteAllText(_files.File("password"), Password + "\n");
        var credentials = string.Join('\n', Hosts.Select(h => $"agent cache/{h.Name} certificate"))
            + $"\nread app sha256:{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(ReadToken)))}\n";
        File.WriteAllText(_files.File("credentials"), credentials);
        return new Dictionary<string, string?>
        {
            ["Failover:Token"] = null,
            ["Failover:CredentialsFile"] = _files.File("credentials"),
            ["Failover:Tls:CertFile"] = _certificates.ServerCertificateFile,
            ["Failover:Tls:KeyFile"] = _certificates.ServerKeyFile,
            ["Failover:Tls:ClientCaFile"] = _certificates.CaFile,
            ["Resources:0:PasswordFile"] = _files.File("password"),
            ["Resources:0:Tls"] = "true",
        };
    }

    private protected override GrpcChannel CreateChannel(string url)
    {
        var trust = agent::RedisShared.Security.TlsTrust.Create(_certificates.CaFile, null);
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => trust.Validate(certificate, errors);
        return GrpcChannel.ForAddress(url, new GrpcChannelOptions { HttpHandler = handler });
    }

    private protected override Metadata ReadHeaders { get; } = new() { { "authorization", "Bearer " + ReadToken } };

    /// <summary>Each agent joins over mTLS with a certificate of its own node, and trusts Redis's and the coordinator's CA.</summary>
    private protected override void ConfigureAgent(TestHost host, Dictionary<string, string?> settings)
    {
        var certificate = _certificates.IssueClient($"cache/{host.Name}");
        settings["Coordinator:Token"] = null;
        settings["Redis:TlsCaFile"] = _certificates.CaFile;
        settings["Coordinator:TlsCaFile"] = _certificates.CaFile;
        settings["Coordinator:CertFile"] = certificate.CertFile;
        settings["Coordinator:KeyFile"] = certificate.KeyFile;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _files.Dispose();
        _certificates.Dispose();
    }

    [Fact]
    public async Task A_writer_on_the_published_url_keeps_writing_through_a_host_loss_and_the_old_primary_replicates_again()
    {
        var published = PublishedUrl();
        Assert.Equal($"rediss://:{Uri.EscapeDataString(Password)}@{Hosts[0].Address}:{Hosts[0].Redis.Port}", published);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(Coordinator.UrlFile));

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var acknowledged = new System.Collections.Concurrent.ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var writer = WriteAsync(acknowledged, stop.Token);
        await Poll.UntilAsync(() => acknowledged.GetValueOrDefault(Hosts[0].Address) >= 5, TimeSpan.FromSeconds(10), () => "the writer writes to host-1");

        ResourceStatus status;
        using (Partition.Isolate(Hosts[0].Address))
        {
            await Agents["host-1"].DisposeAsync();
            Agents.Remove("host-1");
            status = await WaitForStateAsync(s => s.Primary != "host-1" && s.Primary.Length > 0, "a new primary", TimeSpan.FromSeconds(30));
            var promoted = Hosts.Single(h => h.Name == status.Primary);
            await Poll.UntilAsync(() => acknowledged.GetValueOrDefault(promoted.Address) >= 5, TimeSpan.FromSeconds(20),
                () => $"the writer, following the URL file, writes to {promoted.Name}: {string.Join(", ", acknowledged)}\n{Coordinator.Describe()}");
        }

        // Healed: host-1's agent is back; the coordinator makes host-1 a replica, and it must log in to its new primary.
        var primary = Hosts.Single(h => h.Name == status.Primary);
        Agents["host-1"] = await StartAgentAsync(Hosts[0]);
        await Poll.UntilAsync(async () =>
        {
            var info = await InfoAsync(Hosts[0]);
            return info["role"] == "slave" && info["master_host"] == primary.Address && info["master_link_status"] == "up";
        }, TimeSpan.FromSeconds(30), () => $"host-1 replicates from {primary.Name}\n{Coordinator.Describe()}");

        await stop.CancelAsync();
        await writer;
        output.WriteLine(string.Join(", ", acknowledged.Select(p => $"{p.Key}: {p.Value} acknowledged")));
        Assert.Equal($"rediss://:{Uri.EscapeDataString(Password)}@{primary.Address}:{primary.Redis.Port}", PublishedUrl());

        // The password is in the URL file, and nowhere in what either program logs.
        Assert.DoesNotContain(Password, Coordinator.Logs.Text, StringComparison.Ordinal);
        foreach (var agent in Agents.Values)
        {
            Assert.DoesNotContain(Password, agent.Logs.Text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_reader_watching_the_primary_gets_the_url_with_its_credentials()
    {
        using var call = new Admin.AdminClient(Channel).WatchPrimary(new ResourceRequest { Resource = "cache" }, new Metadata { { "authorization", "Bearer " + ReadToken } });

        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Equal(PublishedUrl(), call.ResponseStream.Current.Url);
        Assert.Equal("host-1", call.ResponseStream.Current.Node);
    }

    /// <summary>SET after SET, each on a fresh connection to whatever the URL file names now: an application that reconnects on error.</summary>
    private async Task WriteAsync(System.Collections.Concurrent.ConcurrentDictionary<string, int> acknowledged, CancellationToken stop)
    {
        for (var i = 0; i < 100_000 && !stop.IsCancellationRequested; i++)
        {
            var url = new Uri(PublishedUrl());
            var password = Uri.UnescapeDataString(url.UserInfo.TrimStart(':'));
            try
            {
                await using var client = await RespClient.ConnectAsync(url.Host, url.Port, password, url.Scheme == "rediss" ? _certificates.CaFile : null).WaitAsync(TimeSpan.FromSeconds(1), stop);
                if (await client.CommandAsync("SET", $"k{i}", "v").WaitAsync(TimeSpan.FromSeconds(1), stop) == "OK")
                {
                    acknowledged.AddOrUpdate(url.Host, 1, (_, n) => n + 1);
                }
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or TimeoutException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
            {
                // The old primary is cut off: the URL file will name another.
            }

            await Task.Delay(50, CancellationToken.None);
        }
    }

    private string PublishedUrl()
    {
        var line = File.ReadAllText(Coordinator.UrlFile).Trim();
        Assert.StartsWith("REDIS_URL=", line, StringComparison.Ordinal);
        return line["REDIS_URL=".Length..];
    }

    private static async Task<string> CommandAsync(TestHost host, params string[] command)
    {
        await using var client = await host.Redis.ConnectAsync();
        return await client.CommandAsync(command);
    }

    private static async Task<Dictionary<string, string>> InfoAsync(TestHost host)
    {
        await using var client = await host.Redis.ConnectAsync();
        return await client.InfoAsync("replication");
    }
}
