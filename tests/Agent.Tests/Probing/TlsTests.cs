extern alias agent;
using TlsTrust = agent::RedisShared.Security.TlsTrust;
using RedisAgent.Connection;
using RedisAgent.Probing;
using RedisAgent.Testing;
using RedisAgent.Node;

namespace RedisAgent.Tests.Probing;

/// <summary>rediss:// against a real TLS-only redis-server: trusted through a CA or a pin, never blindly.</summary>
public sealed class TlsTests : IAsyncLifetime
{
    private readonly TestCertificates _certificates = new();
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync(new RedisServerOptions { Tls = _certificates });

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        _certificates.Dispose();
    }

    [Fact]
    public async Task Probe_trusted_through_the_CA_file_is_pong() =>
        Assert.Equal(PortProbeOutcome.Pong, (await Probe(TlsTrust.Create(_certificates.CaFile, null))).Outcome);

    [Fact]
    public async Task Probe_pinned_fingerprint_is_pong() =>
        Assert.Equal(PortProbeOutcome.Pong, (await Probe(TlsTrust.Create(null, _certificates.ServerSha256))).Outcome);

    [Fact]
    public async Task Probe_untrusted_certificate_is_TLS_rejected_not_down()
    {
        var result = await Probe(TlsTrust.System);

        Assert.Equal(PortProbeOutcome.TlsRejected, result.Outcome);
        Assert.True(result.ProcessAnswered);
    }

    [Fact]
    public async Task Probe_wrong_pin_is_TLS_rejected() =>
        Assert.Equal(PortProbeOutcome.TlsRejected, (await Probe(TlsTrust.Create(null, new string('a', 64)))).Outcome);

    [Fact]
    public async Task Agent_rediss_with_CA_file_is_healthy_and_samples_info()
    {
        await using var agent = await AgentUnderTest.StartAsync(new Dictionary<string, string?>
        {
            ["Redis:Url"] = _redis.Url,
            ["Redis:TlsCaFile"] = _certificates.CaFile,
            ["Restart:Driver"] = "none",
        });

        await agent.WaitForAsync(s => s.Verdict == NodeVerdict.Healthy && s.Facts is { Role: RedisFailover.Protos.NodeRole.Primary }, TimeSpan.FromSeconds(20), "healthy over TLS, INFO sampled");
    }

    [Fact]
    public async Task Agent_rediss_untrusted_is_misconfigured_and_never_restarts()
    {
        using var scratch = new TempDirectory("marker");
        var marker = scratch.File("restarted");
        await using var agent = await AgentUnderTest.StartAsync(new Dictionary<string, string?>
        {
            ["Redis:Url"] = _redis.Url,
            ["Restart:Driver"] = "command",
            ["Restart:Command"] = $"touch {marker}",
        });

        await agent.WaitForAsync(s => s.Verdict == NodeVerdict.Misconfigured, TimeSpan.FromSeconds(20), "misconfigured");
        var probes = agent.Snapshot.Probes;
        await agent.WaitForAsync(s => s.Probes >= probes + 10, TimeSpan.FromSeconds(20), "ten more probes");
        Assert.Equal(0, agent.Snapshot.Restarts);
        Assert.False(File.Exists(marker));
    }

    private Task<PortProbeResult> Probe(TlsTrust trust) =>
        new PortProbe(RedisEndpoint.Parse(_redis.Url), TimeSpan.FromSeconds(5), TimeProvider.System, trust).ProbeAsync(CancellationToken.None);
}
