using RedisAgent.Testing;

namespace RedisAgent.Tests.Logs;

/// <summary>A TLS syslog drain (a real rsyslogd with its OpenSSL driver): trusted through a CA or a pin, never blindly.</summary>
public sealed class SyslogTlsTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private readonly TestCertificates _certificates = new();
    private RsyslogServer _rsyslog = null!;

    public async Task InitializeAsync() => _rsyslog = await RsyslogServer.StartAsync(_certificates);

    public async Task DisposeAsync()
    {
        await _rsyslog.DisposeAsync();
        _certificates.Dispose();
    }

    [Theory]
    [InlineData("ca")]
    [InlineData("pin")]
    public async Task TrustedDrain_ReceivesTheLinesOverTls(string trust)
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Logs:Resource"] = "tls-res",
            ["Logs:Syslog:Url"] = _rsyslog.TlsUrl,
            [trust == "ca" ? "Logs:Syslog:TlsCaFile" : "Logs:Syslog:TlsCertificateSha256"] = trust == "ca" ? _certificates.CaFile : _certificates.ServerSha256,
        });

        await Poll.UntilAsync(
            () => _rsyslog.Lines.Any(l => l.EndsWith("redis[tls-res]: * Ready to accept connections", StringComparison.Ordinal)),
            Deadline, () => "received:\n" + string.Join('\n', _rsyslog.Lines) + "\nagent:\n" + agent.Logs.Text);
    }

    [Fact]
    public async Task UntrustedDrain_GetsNothing_AndTheAgentSaysWhy()
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Logs:Resource"] = "tls-res",
            ["Logs:Syslog:Url"] = _rsyslog.TlsUrl,
        });

        await Poll.UntilAsync(() => agent.Logs.Contains(1503), Deadline, () => agent.Logs.Text);
        Assert.Empty(_rsyslog.Lines);
        Assert.True(agent.LogBus.Sinks.Single().Counters.Queued > 0);
    }
}
