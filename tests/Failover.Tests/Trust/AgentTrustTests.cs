using System.Net;
using System.Net.Http.Headers;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Trust;

/// <summary>
/// The agent's side of issue 13: it verifies the coordinator before it sends anything (and says
/// what is wrong with a certificate it refuses), and its /logs and /metrics can require a token.
/// </summary>
public sealed class AgentTrustTests : IAsyncLifetime
{
    private readonly TestCertificates _certificates = new();
    private readonly TempDirectory _files = new("agent-trust");
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        _files.Dispose();
        _certificates.Dispose();
    }

    public static TheoryData<string, string> Untrusted => new()
    {
        { "another-ca", "is not signed by the CA in" },
        { "expired", "expired on" },
        { "another-name", "is issued for" },
    };

    [Theory]
    [MemberData(nameof(Untrusted))]
    public async Task An_agent_sends_nothing_to_a_coordinator_it_does_not_trust_and_says_why(string fault, string expected)
    {
        using var other = new TestCertificates();
        var (certFile, keyFile) = fault switch
        {
            "another-ca" => (other.ServerCertificateFile, other.ServerKeyFile),
            "expired" => Pair(_certificates.IssueServer(DateTimeOffset.UtcNow.AddMinutes(-4), DateTimeOffset.UtcNow.AddMinutes(-1))),
            _ => Pair(_certificates.IssueServer(DateTimeOffset.UtcNow.AddMinutes(-4), DateTimeOffset.UtcNow.AddHours(1), dnsName: "coordinator.example")),
        };
        await using var coordinator = await FailoverUnderTest.StartAsync("cache", [("n1", $"127.0.0.1:{_redis.Port}"), ("n2", "127.0.0.1:2")], new Dictionary<string, string?>
        {
            ["Failover:Tls:CertFile"] = certFile,
            ["Failover:Tls:KeyFile"] = keyFile,
        });

        await using var agent = await AgentOfAsync(coordinator, new Dictionary<string, string?>
        {
            ["Coordinator:Token"] = FailoverUnderTest.Token,
            ["Coordinator:Resource"] = "cache",
            ["Coordinator:TlsCaFile"] = _certificates.CaFile,
        });

        await Poll.UntilAsync(() => agent.Logs.Entries.Any(e => e.EventId == 1614), TimeSpan.FromSeconds(15), () => agent.Logs.Text);
        var line = agent.Logs.Entries.First(e => e.EventId == 1614).Message;
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.Contains("nothing was sent to it", line, StringComparison.Ordinal);
        // The coordinator heard no call at all: no refusal (a token would have been checked), no agent.
        Assert.Equal(0, coordinator.Refusals);
        Assert.DoesNotContain(coordinator.Coordinator["cache"]!.Machine.Nodes, n => n.Connected);
        Assert.DoesNotContain(FailoverUnderTest.Token, agent.Logs.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_agent_joins_a_coordinator_it_trusts_by_its_pinned_certificate()
    {
        await using var coordinator = await FailoverUnderTest.StartAsync("cache", [("n1", $"127.0.0.1:{_redis.Port}"), ("n2", "127.0.0.1:2")], new Dictionary<string, string?>
        {
            ["Failover:Tls:CertFile"] = _certificates.ServerCertificateFile,
            ["Failover:Tls:KeyFile"] = _certificates.ServerKeyFile,
        });
        File.WriteAllText(_files.File("token"), FailoverUnderTest.Token + "\n");

        await using var agent = await AgentOfAsync(coordinator, new Dictionary<string, string?>
        {
            ["Coordinator:TokenFile"] = _files.File("token"),
            ["Coordinator:Resource"] = "cache",
            ["Coordinator:TlsCertificateSha256"] = _certificates.ServerSha256,
        });

        await Poll.UntilAsync(() => coordinator.Coordinator["cache"]!.Machine.Nodes.Any(n => n.Spec.Name == "n1" && n.Connected), TimeSpan.FromSeconds(15), () => agent.Logs.Text);
    }

    /// <summary>The rotation docs/security.md walks through: the agent's new token in its file, the old one's line removed; the agent is cut and back within seconds, and nothing fails over.</summary>
    [Fact]
    public async Task An_agents_token_is_rotated_without_a_restart_or_a_failover()
    {
        const string old = "agent-n1-old-token-0123456";
        const string rotated = "agent-n1-new-token-0123456";
        static string Line(string token) => $"agent cache/n1 sha256:{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token)))}\n";
        var credentials = _files.File("credentials");
        File.WriteAllText(credentials, Line(old));
        File.WriteAllText(_files.File("agent-token"), old);
        await using var coordinator = await FailoverUnderTest.StartAsync("cache", [("n1", $"127.0.0.1:{_redis.Port}"), ("n2", "127.0.0.1:2")], new Dictionary<string, string?>
        {
            ["Failover:Token"] = null,
            ["Failover:CredentialsFile"] = credentials,
        });
        await using var agent = await AgentOfAsync(coordinator, new Dictionary<string, string?>
        {
            ["Coordinator:TokenFile"] = _files.File("agent-token"),
            ["Coordinator:Resource"] = "cache",
            ["Coordinator:ReportInterval"] = "00:00:00.250",
        });
        var machine = coordinator.Coordinator["cache"]!.Machine;
        await Poll.UntilAsync(() => machine.Primary == "n1" && machine.Nodes.Single(n => n.Spec.Name == "n1").Connected, TimeSpan.FromSeconds(15), () => agent.Logs.Text);
        var term = machine.Term;

        // Both valid while the agent's file changes; then the old line goes.
        File.WriteAllText(credentials, Line(old) + Line(rotated));
        File.WriteAllText(_files.File("agent-token"), rotated);
        File.WriteAllText(credentials, Line(rotated));

        await Poll.UntilAsync(() => coordinator.Logs.Entries.Any(e => e.Message.Contains("credential is no longer valid", StringComparison.Ordinal)), TimeSpan.FromSeconds(10),
            () => "the stream opened with the old token cut\n" + coordinator.Logs.Text);
        await Poll.UntilAsync(() => machine.Nodes.Single(n => n.Spec.Name == "n1").Connected && agent.Logs.Entries.Count(e => e.EventId == 1601) >= 2, TimeSpan.FromSeconds(10),
            () => "the agent back with its new token\n" + agent.Logs.Text);
        Assert.Equal(term, machine.Term);
        Assert.Equal("n1", machine.Primary);
    }

    [Fact]
    public async Task With_a_token_file_logs_and_metrics_need_the_token_and_health_checks_do_not()
    {
        const string token = "http-read-token-0123456789";
        File.WriteAllText(_files.File("http-token"), token + "\n");
        await using var agent = await AgentUnderTest.StartAsync(new Dictionary<string, string?>
        {
            ["Redis:Url"] = _redis.Url,
            ["Restart:Driver"] = "none",
            ["Http:TokenFile"] = _files.File("http-token"),
        });
        using var http = new HttpClient { BaseAddress = agent.HttpAddress };

        foreach (var path in new[] { "/logs?num=5", "/metrics" })
        {
            using var refused = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            using var wrong = new HttpRequestMessage(HttpMethod.Get, path) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "not-the-token-0123456") } };
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong)).StatusCode);
            using var allowed = new HttpRequestMessage(HttpMethod.Get, path) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", token) } };
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(allowed)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);

        // The CLI presents it from --token-file.
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(0, await RedisAgent.Cli.LogsCommand.RunAsync(["-n", "3", "--url", agent.HttpAddress.ToString(), "--token-file", _files.File("http-token")], output, error, CancellationToken.None));
        Assert.Equal(64, await RedisAgent.Cli.LogsCommand.RunAsync(["-n", "3", "--url", agent.HttpAddress.ToString()], output, error, CancellationToken.None));
        Assert.Contains("401", error.ToString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A coordinator whose store holds a forged term (2^62, the attack that locked the real
    /// coordinator out for good at 2^63-1): the agent refuses it, and every command of it, until an
    /// operator confirms that very term.
    /// </summary>
    [Fact]
    public async Task A_term_far_past_the_highest_seen_is_refused_until_an_operator_confirms_it()
    {
        await using var coordinator = await FailoverUnderTest.StartAsync("cache", [("n1", $"127.0.0.1:{_redis.Port}"), ("n2", "127.0.0.1:2")]);
        await using var agent = await AgentOfAsync(coordinator, new Dictionary<string, string?>
        {
            ["Coordinator:Token"] = FailoverUnderTest.Token,
            ["Coordinator:Resource"] = "cache",
            ["Coordinator:ReportInterval"] = "00:00:00.250",
        });
        await Poll.UntilAsync(() => agent.Terms.Highest >= 1, TimeSpan.FromSeconds(15), () => agent.Logs.Text + coordinator.Logs.Text);
        var genuine = agent.Terms.Highest;
        const long forged = 1L << 62;

        await coordinator.RestartAsync(() =>
        {
            var path = Path.Combine(coordinator.StoreDirectory, "cache.state.json");
            var record = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
            record["term"] = forged;
            File.WriteAllText(path, record.ToJsonString());
            return Task.CompletedTask;
        });

        await Poll.UntilAsync(() => agent.Logs.Entries.Any(e => e.EventId == 1613), TimeSpan.FromSeconds(15), () => agent.Logs.Text);
        Assert.Contains(agent.Logs.Entries, e => e.EventId == 1615 && e.Message.Contains($"redis-agent accept-term {forged}", StringComparison.Ordinal));
        Assert.Equal(genuine, agent.Terms.Highest);
        // The coordinator journals the refusal, with what the operator can do.
        await Poll.UntilAsync(() => coordinator.Store.Journal("cache").Any(r => r.Kind == "refused" && r.Text.Contains("Coordinator:MaxTermJump", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10), () => "the refusal journalled\n" + coordinator.Describe());

        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(0, await RedisAgent.Cli.AcceptTermCommand.RunAsync([forged.ToString(System.Globalization.CultureInfo.InvariantCulture), "--state-directory", agent.StateDirectory], output, error));

        await Poll.UntilAsync(() => agent.Terms.Highest == forged, TimeSpan.FromSeconds(15), () => "the confirmed term taken at the next command\n" + agent.Logs.Text);
    }

    [Fact]
    public async Task The_exec_driver_runs_a_rediss_node_on_TLS_only_and_restarts_it_so()
    {
        const string password = "tls-node-password-0123";
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Exec:TlsCertFile"] = _certificates.ServerCertificateFile,
            ["Exec:TlsKeyFile"] = _certificates.ServerKeyFile,
            ["Exec:TlsCaFile"] = _certificates.CaFile,
            ["Redis:TlsCaFile"] = _certificates.CaFile,
        }, password, scheme: "rediss");

        await Poll.UntilAsync(() => Resp.PingsAsync("127.0.0.1", agent.Port, password, _certificates.CaFile), TimeSpan.FromSeconds(10), () => "PING over TLS\n" + agent.Logs.Text);
        Assert.False(await Resp.PingsAsync("127.0.0.1", agent.Port, password), "a plain-text client is served");
        var first = agent.ExecProcessId!.Value;

        Signals.Send(first, Signals.SigKill);

        await Poll.UntilAsync(() => agent.ExecProcessId is { } now && now != first, TimeSpan.FromSeconds(10), () => agent.Logs.Text);
        await Poll.UntilAsync(() => Resp.PingsAsync("127.0.0.1", agent.Port, password, _certificates.CaFile), TimeSpan.FromSeconds(15), () => "the restarted node answers over TLS\n" + agent.Logs.Text);
        Assert.False(await Resp.PingsAsync("127.0.0.1", agent.Port, password), "a plain-text client is served after the restart");
        Assert.DoesNotContain(password, agent.Logs.Text, StringComparison.Ordinal);
    }

    /// <summary>An agent of node n1 (its Redis this test's), linked to <paramref name="coordinator"/> with <paramref name="link"/>'s settings; it restarts nothing.</summary>
    private Task<AgentUnderTest> AgentOfAsync(FailoverUnderTest coordinator, Dictionary<string, string?> link)
    {
        link["Redis:Url"] = _redis.Url;
        link["Restart:Driver"] = "none";
        link["Agent:NodeName"] = "n1";
        link["Coordinator:Url"] = coordinator.Url;
        link.TryAdd("Coordinator:Resource", "cache");
        return AgentUnderTest.StartAsync(link);
    }

    private static (string, string) Pair((string CertFile, string KeyFile, string Sha256) issued) => (issued.CertFile, issued.KeyFile);
}
