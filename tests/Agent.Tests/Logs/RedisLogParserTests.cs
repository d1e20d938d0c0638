using System.Globalization;
using System.Text.RegularExpressions;
using RedisAgent.Logs;

namespace RedisAgent.Tests.Logs;

/// <summary>The hand-written parser against the regular expression it replaced, on real and corrupted lines.</summary>
public sealed partial class RedisLogParserTests
{
    private static readonly string[] Lines =
    [
        "7889:M 22 Apr 2016 21:25:09.123 * The server is now ready to accept connections on port 7889",
        "1:C 01 Jan 2026 00:00:00.000 # oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo",
        "31337:S 29 Feb 2024 23:59:59.999 - Client closed connection",
        "2:X 31 Dec 1999 12:34:56.789 . sentinel debug",
        "9:M 15 Jun 2026 08:00:00.000 * text with : colons and * stars and 01 Jan 2020 00:00:00.000 inside",
        "9:M 15 Jun 2026 08:00:00.000 * ",
    ];

    [Fact]
    public void Try_parse_agrees_with_the_regex_on_real_lines_and_every_one_character_corruption()
    {
        var checkedLines = 0;
        foreach (var line in Lines)
        {
            foreach (var variant in Corruptions(line))
            {
                var expected = Reference(variant);
                var parsed = RedisLogParser.TryParse(variant, out var local, out var level, out var textStart);

                Assert.True(expected.HasValue == parsed, $"'{variant}': regex {expected.HasValue}, parser {parsed}");
                if (parsed)
                {
                    Assert.Equal(expected!.Value.Local, local);
                    Assert.Equal(expected.Value.Level, level);
                    Assert.Equal(expected.Value.Text, variant[textStart..]);
                }

                checkedLines++;
            }
        }

        Assert.True(checkedLines > 1000);
    }

    [Theory]
    [InlineData("1:M 30 Feb 2026 10:00:00.000 * no such day")]
    [InlineData("1:M 31 Apr 2026 10:00:00.000 * no such day")]
    [InlineData("1:M 01 Foo 2026 10:00:00.000 * no such month")]
    [InlineData("1:Q 01 Jan 2026 10:00:00.000 * no such role")]
    [InlineData(":M 01 Jan 2026 10:00:00.000 * no pid")]
    [InlineData("1:M 01 Jan 2026 10:00:00.000 ! no such level")]
    [InlineData("1:M 01 Jan 2026 10:00:00.000 *")]
    [InlineData("1:M 01 Jan 0000 10:00:00.000 * year zero would throw in DateTime")]
    public void TryParse_NotRedisFormat_IsRefused(string line) =>
        Assert.False(RedisLogParser.TryParse(line, out _, out _, out _));

    private static IEnumerable<string> Corruptions(string line)
    {
        yield return line;
        const string replacements = "0 :9Mx.*#";
        for (var i = 0; i < Math.Min(line.Length, 45); i++)
        {
            foreach (var c in replacements)
            {
                yield return line[..i] + c + line[(i + 1)..];
            }

            yield return line[..i] + line[(i + 1)..];
        }
    }

    private static (DateTime Local, char Level, string Text)? Reference(string line)
    {
        var match = Format().Match(line);
        return match.Success && DateTime.TryParseExact(match.Groups["time"].Value, "dd MMM yyyy HH:mm:ss.fff", CultureInfo.InvariantCulture, DateTimeStyles.None, out var local)
            ? (local, match.Groups["level"].Value[0], match.Groups["text"].Value)
            : null;
    }

    [GeneratedRegex(@"^\d+:[XCSM] (?<time>\d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}\.\d{3}) (?<level>[.\-*#]) (?<text>.*)$", RegexOptions.Singleline)]
    private static partial Regex Format();
}
