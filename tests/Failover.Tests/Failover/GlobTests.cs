using RedisFailover.Sentinel;

namespace RedisAgent.Tests.Failover;

/// <summary>PSUBSCRIBE's patterns, matched as Redis's stringmatchlen matches them.</summary>
public sealed class GlobTests
{
    [Theory]
    [InlineData("*", "+switch-master", true)]
    [InlineData("", "", true)]
    [InlineData("", "a", false)]
    [InlineData("+switch-master", "+switch-master", true)]
    [InlineData("+switch-maste", "+switch-master", false)]
    [InlineData("+*down", "+sdown", true)]
    [InlineData("+*down", "-sdown", false)]
    [InlineData("?sdown", "-sdown", true)]
    [InlineData("[-+]odown", "-odown", true)]
    [InlineData("[+-]odown", "-odown", false)] // as in Redis: "+-]" is a range, so the class never closes
    [InlineData("[^+]odown", "+odown", false)]
    [InlineData("[a-c]x", "bx", true)]
    [InlineData("[c-a]x", "bx", true)]
    [InlineData("\\*", "*", true)]
    [InlineData("\\*", "a", false)]
    [InlineData("[\\]]", "]", true)]
    [InlineData("a*b*c", "aXbYc", true)]
    [InlineData("a*b*c", "aXbY", false)]
    [InlineData("**", "", true)]
    [InlineData("[", "", false)]
    [InlineData("[", "a", false)]
    [InlineData("[ab", "b", true)]
    [InlineData("[^", "x", true)]
    [InlineData("\\", "\\", true)]
    public void Matches_as_redis_does(string pattern, string text, bool expected) =>
        Assert.Equal(expected, Glob.Matches(pattern, text));

    [Fact]
    public void A_pattern_built_to_backtrack_is_answered_at_once()
    {
        var pattern = string.Concat(Enumerable.Repeat("*a", 30_000)) + "b";
        var text = new string('a', 100);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.False(Glob.Matches(pattern, text));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"{clock.Elapsed.TotalMilliseconds:0} ms");
    }
}
