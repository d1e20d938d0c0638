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
    public async Task Trusted_drain_receives_the_lines_over_TLS(string trust)
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
    public async Task Untrusted_drain_gets_nothing_and_the_agent_says_why()
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

/// <summary>
/// Issue 18: a TLS drain the agent refuses is refused with the check that failed, in the agent's
/// log (event 1503): another CA, an expired certificate, another name, not the pinned one. And a
/// pinned certificate is the whole decision, by design: pinned, an expired one is accepted.
/// </summary>
public sealed class SyslogTlsRefusalTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private readonly TestCertificates _certificates = new();
    private readonly TestCertificates _otherCa = new();

    public void Dispose()
    {
        _certificates.Dispose();
        _otherCa.Dispose();
    }

    [Theory]
    [InlineData("other-ca", "is not signed by the CA in")]
    [InlineData("expired", "its certificate expired on ")]
    [InlineData("other-name", "not for the address dialled")]
    [InlineData("other-pin", "is not the pinned one")]
    public async Task A_refused_drain_is_told_which_check_failed(string fault, string reason)
    {
        var now = DateTimeOffset.UtcNow;
        (string, string)? served = fault switch
        {
            "expired" => Pair(_certificates.IssueServer(now.AddMinutes(-4), now.AddMinutes(-1))),
            "other-name" => Pair(_certificates.IssueServer(now.AddMinutes(-5), now.AddHours(1), dnsName: "other.example")),
            _ => null,
        };
        await using var syslogNg = await SyslogNgServer.StartAsync(_certificates, served);
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Logs:Resource"] = "tls-res",
            ["Logs:Syslog:Url"] = syslogNg.TlsUrl,
            ["Logs:Syslog:TlsCaFile"] = fault switch { "other-ca" => _otherCa.CaFile, "other-pin" => null, _ => _certificates.CaFile },
            ["Logs:Syslog:TlsCertificateSha256"] = fault == "other-pin" ? _otherCa.ServerSha256 : null,
        });

        await Poll.UntilAsync(() => agent.Logs.Contains(1503), Deadline, () => agent.Logs.Text);
        var refusal = agent.Logs.Text.Split('\n').First(l => l.Contains("[1503]", StringComparison.Ordinal));
        Assert.Contains(reason, refusal, StringComparison.Ordinal);
        Assert.DoesNotContain("rejected by the provided RemoteCertificateValidationCallback", refusal, StringComparison.Ordinal);
        Assert.Empty(syslogNg.Messages);
    }

    [Fact]
    public async Task A_pinned_certificate_is_trusted_even_expired_and_for_another_name()
    {
        var now = DateTimeOffset.UtcNow;
        var expired = _certificates.IssueServer(now.AddMinutes(-4), now.AddMinutes(-1), dnsName: "other.example");
        await using var syslogNg = await SyslogNgServer.StartAsync(_certificates, Pair(expired));
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Logs:Resource"] = "tls-res",
            ["Logs:Syslog:Url"] = syslogNg.TlsUrl,
            ["Logs:Syslog:TlsCertificateSha256"] = expired.Sha256,
        });

        await Poll.UntilAsync(() => syslogNg.Messages.Any(m => m.GetValueOrDefault("MESSAGE", "").Contains("Ready to accept connections", StringComparison.Ordinal)),
            Deadline, () => "nothing at syslog-ng:\n" + agent.Logs.Text);
    }

    private static (string, string) Pair((string CertFile, string KeyFile, string Sha256) issued) => (issued.CertFile, issued.KeyFile);
}
