using RedisAgent.Logs;

namespace RedisAgent.Tests.Logs;

public sealed class LogLineTests
{
    private static readonly DateTimeOffset Arrived = new(2026, 11, 26, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Parse_RedisLine_TakesItsTimeLevelAndText_AndFormatsAsTheRouterDoes()
    {
        var parser = new RedisLogParser(TimeZoneInfo.Utc);

        var line = parser.Parse("7889:M 22 Apr 2016 21:25:09.123 * The server is now ready to accept connections on port 7889", Arrived);

        Assert.Equal(new DateTimeOffset(2016, 4, 22, 21, 25, 9, 123, TimeSpan.Zero), line.Timestamp);
        Assert.Equal('*', line.Level);
        Assert.Equal(
            "2016-04-22T21:25:09Z redis[redis-clear-69157]: * The server is now ready to accept connections on port 7889",
            line.Format("redis-clear-69157"));
    }

    [Fact]
    public void Parse_LocalTimeOfRedis_BecomesUtc()
    {
        var paris = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");
        var parser = new RedisLogParser(paris);

        // 22 April: Paris is UTC+2.
        var line = parser.Parse("1:S 22 Apr 2016 23:25:09.000 # MASTER <-> REPLICA sync started", Arrived);

        Assert.Equal(new DateTimeOffset(2016, 4, 22, 21, 25, 9, TimeSpan.Zero), line.Timestamp);
        Assert.Equal('#', line.Level);
    }

    [Theory]
    [InlineData("                _._                                                  ")]
    [InlineData("=== REDIS BUG REPORT START: Cut & paste starting from here ===")]
    [InlineData("12:C 99 Foo 2016 25:61:00.000 * not a real time")]
    public void Parse_LineThatDoesNotMatch_KeepsItsTextWithTheArrivalTime(string raw)
    {
        var line = new RedisLogParser(TimeZoneInfo.Utc).Parse(raw, Arrived);

        Assert.Equal(Arrived, line.Timestamp);
        Assert.Null(line.Level);
        Assert.Equal(raw, line.Text);
    }

    [Fact]
    public void Parse_ForgedNewlineInsideALine_CannotStartAnotherLine()
    {
        var line = new RedisLogParser(TimeZoneInfo.Utc).Parse(
            "1:M 22 Apr 2016 21:25:09.000 # bad key 'x\n2016-04-22T21:25:10Z redis[victim]: * forged'\r\u001b[31m", Arrived);

        var formatted = line.Format("r");
        Assert.DoesNotContain('\n', formatted);
        Assert.DoesNotContain('\r', formatted);
        Assert.DoesNotContain('\u001b', formatted);
        Assert.Contains(@"x\n2016-04-22T21:25:10Z redis[victim]", formatted, StringComparison.Ordinal);
        Assert.Contains(@"\x1b[31m", formatted, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\u0085next-line", @"\x85next-line")]
    [InlineData("para\u2029graph", @"para\x2029graph")]
    [InlineData("tab\there", @"tab\there")]
    [InlineData("del\u007f", @"del\x7f")]
    public void Clean_OtherLineBreakersAndControls_BecomeVisibleEscapes(string text, string expected) =>
        Assert.Equal(expected, LineSanitizer.Clean(text));

    [Fact]
    public void Clean_OverlongLine_IsCutAndSaysSo()
    {
        var clean = LineSanitizer.Clean(new string('a', 10_000), maxLength: 100);

        Assert.StartsWith(new string('a', 100), clean, StringComparison.Ordinal);
        Assert.EndsWith("[truncated 9900 characters]", clean, StringComparison.Ordinal);
    }

    [Fact]
    public void Clean_InvalidUtf8DecodedByTheAgent_IsAReplacementCharacter()
    {
        // Sources decode bytes with replacement, so invalid UTF-8 arrives as U+FFFD and stays valid text.
        var decoded = System.Text.Encoding.UTF8.GetString([0x6f, 0x6b, 0xff, 0xfe, 0x21]);

        Assert.Equal("ok\uFFFD\uFFFD!", LineSanitizer.Clean(decoded));
    }
}
