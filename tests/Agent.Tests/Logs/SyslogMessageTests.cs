using System.Text;
using RedisAgent.Logs;

namespace RedisAgent.Tests.Logs;

public sealed class SyslogMessageTests
{
    private static readonly LogLine Ready = new(new DateTimeOffset(2016, 4, 22, 21, 25, 9, 123, TimeSpan.Zero), LogSource.Redis, '*',
        "The server is now ready to accept connections on port 7889");

    [Fact]
    public void Format_is_RFC_5424_with_the_resource_as_proc_ID()
    {
        var message = SyslogMessage.Format(Ready, facility: 16, hostname: "db-1", resource: "redis-clear-69157");

        // local0 (16) * 8 + notice (5) = 133.
        Assert.Equal("<133>1 2016-04-22T21:25:09.123Z db-1 redis redis-clear-69157 - - * The server is now ready to accept connections on port 7889", message);
    }

    [Theory]
    [InlineData('.', 7)]
    [InlineData('-', 6)]
    [InlineData('*', 5)]
    [InlineData('#', 4)]
    public void Severity_FollowsRedisLevels(char level, int severity) =>
        Assert.Equal(severity, SyslogMessage.Severity(Ready with { Level = level }));

    /// <summary>
    /// The agent's own errors and critical events reach a drain as err (3) and crit (2), not as
    /// Redis's warning, so drain rules on severity work (issue 18); warnings stay warnings.
    /// </summary>
    [Theory]
    [InlineData(Microsoft.Extensions.Logging.LogLevel.Critical, 2)]
    [InlineData(Microsoft.Extensions.Logging.LogLevel.Error, 3)]
    [InlineData(Microsoft.Extensions.Logging.LogLevel.Warning, 4)]
    [InlineData(Microsoft.Extensions.Logging.LogLevel.Information, 5)]
    public void Severity_OfTheAgentsOwnEvents_FollowsTheirLogLevel(Microsoft.Extensions.Logging.LogLevel level, int severity)
    {
        var bus = new LogBus(Microsoft.Extensions.Options.Options.Create(new LogOptions()));
        using var provider = new LogBusLoggerProvider(bus, Microsoft.Extensions.Options.Options.Create(new LogOptions()), TimeProvider.System);
        var logger = provider.CreateLogger("RedisAgent.Coordination.IsolationFence");

        Microsoft.Extensions.Logging.LoggerExtensions.Log(logger, level, new Microsoft.Extensions.Logging.EventId(1608), "fenced its primary");

        var line = Assert.Single(bus.History());
        Assert.Equal(severity, SyslogMessage.Severity(line));
        Assert.StartsWith($"<{(16 * 8) + severity}>1 ", SyslogMessage.Format(line, 16, "db-1", "r"), StringComparison.Ordinal);
    }

    [Fact]
    public void Format_header_fields_with_spaces_or_controls_cannot_shift_the_fields()
    {
        var message = SyslogMessage.Format(Ready, 16, "db 1\n", "my resource");

        Assert.StartsWith("<133>1 2016-04-22T21:25:09.123Z db_1_ redis my_resource - - ", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Octet_counted_counts_bytes_not_characters()
    {
        var frame = Encoding.UTF8.GetString(SyslogMessage.OctetCounted("é!"));

        Assert.Equal("3 é!", frame);
    }

    [Fact]
    public void Datagram_too_long_is_cut_on_a_character_boundary_and_says_how_many_bytes_were_cut()
    {
        var message = "ab" + new string('é', 1000);
        var bytes = SyslogMessage.Datagram(message, maxBytes: 481);
        var text = Encoding.UTF8.GetString(bytes);

        Assert.True(bytes.Length <= 481, $"{bytes.Length} bytes");
        var mark = System.Text.RegularExpressions.Regex.Match(text, @" \[truncated (\d+) bytes\]$");
        Assert.True(mark.Success, text);
        var kept = text[..mark.Index];
        Assert.Equal(message[..kept.Length], kept);
        Assert.Equal(Encoding.UTF8.GetByteCount(message) - Encoding.UTF8.GetByteCount(kept), int.Parse(mark.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(bytes.Length >= 481 - 1, "no more is cut than the mark needs (one byte for a split character)");
        Assert.Equal("short", Encoding.UTF8.GetString(SyslogMessage.Datagram("short", 481)));
    }

    [Theory]
    [InlineData("local0", 16)]
    [InlineData("LOCAL7", 23)]
    [InlineData("daemon", 3)]
    [InlineData("19", 19)]
    [InlineData("local8", null)]
    [InlineData("24", null)]
    public void ParseFacility_NamesAndNumbers(string text, int? expected) =>
        Assert.Equal(expected, SyslogMessage.ParseFacility(text));

    [Fact]
    public void Format_with_structured_data_puts_it_between_msg_ID_and_message()
    {
        var message = SyslogMessage.Format(Ready, 16, "db-1", "r", "[origin@32473 software=\"redis-agent\"]");

        Assert.Equal("<133>1 2016-04-22T21:25:09.123Z db-1 redis r - [origin@32473 software=\"redis-agent\"] * The server is now ready to accept connections on port 7889", message);
    }

    [Theory]
    [InlineData("[origin@32473 software=\"redis-agent\"]", true)]
    [InlineData("[a@1][b@2 x=\"y\" z=\"w \\\" q\"]", true)]
    [InlineData("[exampleSDID@32473]", true)]
    [InlineData("origin@32473", false)]
    [InlineData("[a b]", false)]
    [InlineData("[a x=\"unterminated]", false)]
    [InlineData("[a x=\"new\nline\"]", false)]
    [InlineData("[a] trailing", false)]
    [InlineData("[tok@1 v=\"a]b\"]", false)]
    [InlineData("[tok@1 v=\"a\\]b\"]", true)]
    public void IsStructuredData_FollowsRfc5424(string text, bool expected) =>
        Assert.Equal(expected, SyslogMessage.IsStructuredData(text));
}
