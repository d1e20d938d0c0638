using RedisAgent.Testing;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// The etcd store over TLS: a real 3-member etcd serving its client URLs with TLS only and
/// requiring a client certificate (<c>--client-cert-auth</c>); coordinators in-process.
/// </summary>
public sealed class EtcdTlsTests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TestCertificates _certificates = new(EtcdCluster.Addresses());
    private EtcdCluster _etcd = null!;

    public async Task InitializeAsync() => _etcd = await EtcdCluster.StartClusterAsync(tls: _certificates);

    public async Task DisposeAsync()
    {
        if (_etcd is not null)
        {
            await _etcd.DisposeAsync();
        }

        _certificates.Dispose();
    }

    [Fact]
    public async Task A_coordinator_with_the_ca_and_a_client_certificate_leads()
    {
        await using var coordinator = await StartAsync(_certificates.CaFile, _certificates.ClientCertificateFile, _certificates.ClientKeyFile);

        await Poll.UntilAsync(() => coordinator.Coordinator.Leadership.Leads, TimeSpan.FromSeconds(20), () => "leads over TLS\n" + coordinator.Logs.Text);
        await Poll.UntilAsync(() => coordinator.Coordinator["cache"] is not null, TimeSpan.FromSeconds(5), () => "takes up the resource\n" + coordinator.Logs.Text);
        Assert.Equal(1, coordinator.Coordinator["cache"]!.Machine.Term);
    }

    [Fact]
    public async Task A_coordinator_that_does_not_trust_etcds_certificate_never_leads_and_says_why()
    {
        using var stranger = new TestCertificates(EtcdCluster.Addresses());
        await using var coordinator = await StartAsync(stranger.CaFile, _certificates.ClientCertificateFile, _certificates.ClientKeyFile);

        await Poll.UntilAsync(() => coordinator.Logs.Entries.Any(e => e.EventId == 2067), TimeSpan.FromSeconds(20), () => "says it cannot reach etcd\n" + coordinator.Logs.Text);
        var line = coordinator.Logs.Entries.First(e => e.EventId == 2067).Message;
        output.WriteLine(line);
        Assert.Contains("not signed by Failover:Etcd:CaFile", line, StringComparison.Ordinal);
        Assert.False(coordinator.Coordinator.Leadership.Leads);
        Assert.Null(coordinator.Coordinator["cache"]);
    }

    [Fact]
    public async Task A_coordinator_without_a_client_certificate_is_refused_by_etcd_and_never_leads()
    {
        await using var coordinator = await StartAsync(_certificates.CaFile, null, null);

        await Poll.UntilAsync(() => coordinator.Logs.Entries.Any(e => e.EventId == 2067), TimeSpan.FromSeconds(20), () => "says it cannot reach etcd\n" + coordinator.Logs.Text);
        var line = coordinator.Logs.Entries.First(e => e.EventId == 2067).Message;
        output.WriteLine(line);
        Assert.Contains("Failover:Etcd:CertFile", line, StringComparison.Ordinal);
        Assert.False(coordinator.Coordinator.Leadership.Leads);
    }

    private Task<FailoverUnderTest> StartAsync(string caFile, string? certFile, string? keyFile) =>
        FailoverUnderTest.StartAsync("cache", [("a", "127.0.0.1:6379"), ("b", "127.0.0.1:6380")], new Dictionary<string, string?>
        {
            ["Failover:Store"] = "etcd",
            ["Failover:Etcd:Endpoints"] = _etcd.Endpoints,
            ["Failover:Etcd:Prefix"] = "/tls-" + Guid.NewGuid().ToString("N")[..8],
            ["Failover:Etcd:LeaderTtl"] = "00:00:03",
            ["Failover:Etcd:RequestTimeout"] = "00:00:01",
            ["Failover:Etcd:CaFile"] = caFile,
            ["Failover:Etcd:CertFile"] = certFile,
            ["Failover:Etcd:KeyFile"] = keyFile,
        });
}
