using RedisAgent.Logs;

namespace RedisAgent.Tests.Logs;

public sealed class LogLineTests
{
    private static readonly DateTimeOffset Arrived = new(2026, 11, 26, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Parse_Redis_line_takes_its_time_level_and_text_and_formats_as_the_router_does()
    {
        var parser = new RedisLogParser(TimeZoneInfo.Utc);

        var line = parser.Parse("7889:M 22 Apr 2016 21:25:09.123 * The server is now ready to accept connections on port 7889", Arrived);

        Assert.Equal(new DateTimeOffset(2016, 4, 22, 21, 25, 9, 123, TimeSpan.Zero), line.Timestamp);
        Assert.Equal('*', line.Level);
        Assert.Equal(
            "2016-04-22T21:25:09Z redis[redis-clear-69157]: * The server is now ready to accept connections on port 7889",
            line.Format("redis-clear-69157"));
    }

    /// <summary>Every live tail sends the same bytes of a line: made once, by the first, in UTF-8.</summary>
    [Fact]
    public void Tail_bytes_are_the_routers_line_and_a_newline_made_once_for_every_tail()
    {
        var line = new LogLine(Arrived, LogSource.Redis, '#', "réplica en retard");
        var twin = new LogLine(Arrived, LogSource.Redis, '#', "réplica en retard");

        var first = line.TailBytes("cache");

        Assert.Equal("2026-11-26T09:00:00Z redis[cache]: # réplica en retard\n", System.Text.Encoding.UTF8.GetString(first.Span));
        Assert.True(first.Span == line.TailBytes("cache").Span, "a second tail formats the line again");
        Assert.Equal(line.Format("other") + "\n", System.Text.Encoding.UTF8.GetString(line.TailBytes("other").Span));
        // The copy made for tails is not part of the line: a line is equal to its twin that no tail sent.
        Assert.Equal(twin, line);
        Assert.Equal(twin.GetHashCode(), line.GetHashCode());
        Assert.NotEqual(twin with { Severity = 2 }, line);
    }

    [Fact]
    public void Parse_local_time_of_Redis_becomes_UTC()
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
    public void Parse_line_that_does_not_match_is_a_marked_continuation_with_the_arrival_time_when_no_record_came_before(string raw)
    {
        var line = new RedisLogParser(TimeZoneInfo.Utc).Parse(raw, Arrived);

        Assert.Equal(Arrived, line.Timestamp);
        Assert.Null(line.Level);
        Assert.Equal("| " + raw, line.Text);
    }

    /// <summary>
    /// Issue 18: a script's <c>redis.log(redis.LOG_WARNING, 'x\nsource=REDIS ... \n1:M 01 Jan 2020 ... # ...')</c>
    /// reaches the agent as physical lines of its own. None of them passes for a record, nor for the
    /// agent's metrics line: each is marked as the continuation of the record it came with, and
    /// takes that record's time; true records after them are records again.
    /// </summary>
    [Fact]
    public void Parse_forged_lines_after_a_record_are_marked_continuations_of_it_and_the_next_true_record_is_a_record()
    {
        var parser = new RedisLogParser(TimeZoneInfo.Utc);
        var now = new DateTimeOffset(2026, 12, 1, 14, 0, 0, TimeSpan.Zero);

        var record = parser.Parse("7889:M 01 Dec 2026 14:00:00.000 # x", now);
        var metrics = parser.Parse("source=REDIS addon=cache sample#active-connections=9999", now);
        var backdated = parser.Parse("7889:M 01 Jan 2020 00:00:00.000 # disk failure", now);
        var future = parser.Parse("7889:M 01 Jan 2030 00:00:00.000 # from the future", now);
        var next = parser.Parse("7889:M 01 Dec 2026 14:00:01.000 * Background saving started", now);

        Assert.Equal('#', record.Level);
        Assert.Equal("2026-12-01T14:00:00Z redis[cache]: | source=REDIS addon=cache sample#active-connections=9999", metrics.Format("cache"));
        Assert.Equal("2026-12-01T14:00:00Z redis[cache]: | 7889:M 01 Jan 2020 00:00:00.000 # disk failure", backdated.Format("cache"));
        Assert.Equal("2026-12-01T14:00:00Z redis[cache]: | 7889:M 01 Jan 2030 00:00:00.000 # from the future", future.Format("cache"));
        Assert.All(new[] { metrics, backdated, future }, l => Assert.Null(l.Level));
        Assert.Equal("2026-12-01T14:00:01Z redis[cache]: * Background saving started", next.Format("cache"));
    }

    /// <summary>A clock set back, or a daylight-saving change, keeps Redis's records records (within two hours).</summary>
    [Fact]
    public void Parse_a_record_an_hour_before_the_previous_one_is_still_a_record()
    {
        var parser = new RedisLogParser(TimeZoneInfo.Utc);
        var now = new DateTimeOffset(2026, 10, 25, 3, 0, 0, TimeSpan.Zero);
        parser.Parse("1:M 25 Oct 2026 02:59:59.000 * before", now);

        var after = parser.Parse("1:M 25 Oct 2026 02:00:00.000 * after the clock went back", now);

        Assert.Equal('*', after.Level);
        Assert.Equal(new DateTimeOffset(2026, 10, 25, 2, 0, 0, TimeSpan.Zero), after.Timestamp);
    }

    [Fact]
    public void Parse_forged_newline_inside_a_line_cannot_start_another_line()
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
    [InlineData("para\u2029graph", @"para\u2029graph")]
    [InlineData("line\u2028sep", @"line\u2028sep")]
    [InlineData("evil\u202egnp.exe", @"evil\u202egnp.exe")]
    [InlineData("\ufeffbom", @"\ufeffbom")]
    [InlineData("iso\u2066late\u2069", @"iso\u2066late\u2069")]
    [InlineData("tab\there", @"tab\there")]
    [InlineData("del\u007f", @"del\x7f")]
    public void Clean_OtherLineBreakersAndControls_BecomeVisibleEscapes(string text, string expected) =>
        Assert.Equal(expected, LineSanitizer.Clean(text));

    [Fact]
    public void Clean_overlong_line_is_cut_and_says_so()
    {
        var clean = LineSanitizer.Clean(new string('a', 10_000), maxLength: 100);

        Assert.StartsWith(new string('a', 100), clean, StringComparison.Ordinal);
        Assert.EndsWith("[truncated 9900 bytes]", clean, StringComparison.Ordinal);
    }

    [Fact]
    public void Clean_invalid_UTF_8_decoded_by_the_agent_is_a_replacement_character()
    {
        // Sources decode bytes with replacement, so invalid UTF-8 arrives as U+FFFD and stays valid text.
        var decoded = System.Text.Encoding.UTF8.GetString([0x6f, 0x6b, 0xff, 0xfe, 0x21]);

        Assert.Equal("ok\uFFFD\uFFFD!", LineSanitizer.Clean(decoded));
    }
}
