using System.Globalization;
using RedisAgent.Logs;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Logs;

/// <summary>
/// Issue 18: a second receiver beside rsyslog. The agent's drain to a real syslog-ng's RFC 5424
/// <c>syslog()</c> source over TCP, UDP and TLS: every line arrives, parsed without error, and
/// each field is what the agent meant: the tag, the resource, the node, the severity, the
/// facility, the time, the structured data and the text.
/// </summary>
public sealed class SyslogNgDrainTests : IAsyncLifetime
{
    private const string Resource = "redis-clear-69157";
    private const string Node = "node-a";
    // Each character RFC 5424 wants escaped in a PARAM-VALUE: '"', '\' and ']'.
    private const string StructuredData = """[origin@32473 software="redis-agent" note="a \"quoted\" \\ \] value"]""";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly TestCertificates _certificates = new();
    private SyslogNgServer _syslogNg = null!;

    public async Task InitializeAsync() => _syslogNg = await SyslogNgServer.StartAsync(_certificates);

    public async Task DisposeAsync()
    {
        await _syslogNg.DisposeAsync();
        _certificates.Dispose();
    }

    [Theory]
    [InlineData("tcp")]
    [InlineData("udp")]
    [InlineData("tls")]
    public async Task Every_line_arrives_at_syslog_ng_parsed_field_by_field(string transport)
    {
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Agent:NodeName"] = Node,
            ["Logs:Resource"] = Resource,
            ["Logs:Syslog:Url"] = transport switch { "tcp" => _syslogNg.TcpUrl, "udp" => _syslogNg.UdpUrl, _ => _syslogNg.TlsUrl },
            ["Logs:Syslog:TlsCaFile"] = transport == "tls" ? _certificates.CaFile : null,
            ["Logs:Syslog:StructuredData"] = StructuredData,
            ["Metrics:LogInterval"] = "00:00:01",
        });
        await using (var client = await RespClient.ConnectAsync("127.0.0.1", agent.Port))
        {
            // A line of Redis's with characters a parser could trip on.
            await client.CommandAsync("EVAL", "redis.log(redis.LOG_WARNING, 'quote \" bracket ] backslash \\\\ é ü line\\nsecond')", "0");
        }

        await Poll.UntilAsync(
            () => agent.LogBus.History().Any(l => l.Source == LogSource.Metrics) && agent.LogBus.History().Any(l => l.Text.Contains("second", StringComparison.Ordinal)),
            Deadline, () => "no metrics line or script line in the agent's stream:\n" + string.Join('\n', agent.LogBus.History().Select(l => l.Format(Resource))));
        var expected = agent.LogBus.History().ToList();

        IReadOnlyList<IReadOnlyDictionary<string, string>> received = [];
        await Poll.UntilAsync(() => expected.All(line => (received = _syslogNg.Messages).Any(m => Matches(m, line))), Deadline,
            () => $"missing at syslog-ng:\n{string.Join('\n', expected.Where(l => !received.Any(m => Matches(m, l))).Select(l => l.Format(Resource)))}\n" +
                  $"received:\n{string.Join('\n', received.Select(m => string.Join(' ', m.Select(p => $"{p.Key}={p.Value}"))))}\nsyslog-ng:\n{_syslogNg.Output}");

        Assert.DoesNotContain(received, m => m.GetValueOrDefault("MESSAGE", "").Contains("Error processing log message", StringComparison.Ordinal));
        foreach (var line in expected)
        {
            var message = received.First(m => Matches(m, line));
            Assert.Equal(Resource, message["PID"]);
            Assert.Equal(Node, message["HOST"]);
            Assert.Equal("local0", message["FACILITY"]);
            Assert.Equal(SeverityName(SyslogMessage.Severity(line)), message["PRIORITY"]);
            Assert.Equal(line.Timestamp.ToUnixTimeSeconds(), DateTimeOffset.Parse(message["ISODATE"], CultureInfo.InvariantCulture).ToUnixTimeSeconds());
            Assert.Equal("redis-agent", message["_SDATA.origin@32473.software"]);
            Assert.Equal("a \"quoted\" \\ ] value", message["_SDATA.origin@32473.note"]);
        }

        // Each source under its own tag: Redis's own, the agent's, and the metrics line.
        Assert.Contains(received, m => m["PROGRAM"] == "redis" && m["MESSAGE"].Contains("Ready to accept connections", StringComparison.Ordinal));
        Assert.Contains(received, m => m["PROGRAM"] == "heroku-redis" && m["MESSAGE"].StartsWith("source=REDIS", StringComparison.Ordinal));
        Assert.Contains(received, m => m["PROGRAM"] == "agent");
        Assert.Contains(received, m => m["PROGRAM"] == "redis" && m["MESSAGE"] == "| second");
        Assert.Contains(received, m => m["PROGRAM"] == "redis" && m["MESSAGE"].EndsWith("quote \" bracket ] backslash \\ é ü line", StringComparison.Ordinal));
    }

    private static bool Matches(IReadOnlyDictionary<string, string> message, LogLine line) =>
        message.GetValueOrDefault("PROGRAM") == line.SourceName && message.GetValueOrDefault("MESSAGE") == line.Message;

    private static string SeverityName(int severity) => severity switch
    {
        0 => "emerg",
        1 => "alert",
        2 => "crit",
        3 => "err",
        4 => "warning",
        5 => "notice",
        6 => "info",
        _ => "debug",
    };
}
