using RedisAgent.Coordination;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Failover;

public sealed class TermStoreTests
{
    [Fact]
    public void A_term_older_than_the_highest_seen_is_refused_even_after_a_restart()
    {
        using var directory = new TempDirectory("terms");
        var terms = new TermStore(directory.Path);

        Assert.True(terms.TryAccept(3));
        Assert.True(terms.TryAccept(3));
        Assert.False(terms.TryAccept(2));

        var restarted = new TermStore(directory.Path);
        Assert.Equal(3, restarted.Highest);
        Assert.False(restarted.TryAccept(1));
        Assert.True(restarted.TryAccept(4));
    }

    /// <summary>Issue 13: a forged term (a fake coordinator stored 2^63-1 once) must not lock the real coordinator out.</summary>
    [Fact]
    public async Task A_term_leaping_past_the_bound_is_refused_until_an_operator_confirms_that_very_term()
    {
        using var directory = new TempDirectory("terms");
        var terms = new TermStore(directory.Path, maxJump: 1000);
        Assert.True(terms.TryAccept(5));

        Assert.False(terms.TryAccept(long.MaxValue, out var refusal));
        Assert.Contains("more than Coordinator:MaxTermJump (1000)", refusal, StringComparison.Ordinal);
        Assert.Contains($"redis-agent accept-term {long.MaxValue}", refusal, StringComparison.Ordinal);
        Assert.Equal(5, terms.Highest);
        Assert.True(terms.TryAccept(1005));

        // The operator confirms 5000 with the CLI: 5000 is accepted once; another leap is not.
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(0, await RedisAgent.Cli.AcceptTermCommand.RunAsync(["5000", "--state-directory", directory.Path], output, error));
        Assert.False(terms.TryAccept(9000));
        Assert.True(terms.TryAccept(5000));
        Assert.False(File.Exists(Path.Combine(directory.Path, TermStore.AcceptFileName)));
        Assert.False(terms.TryAccept(7000));
        Assert.Equal(5000, new TermStore(directory.Path, maxJump: 1000).Highest);
    }

    [Theory]
    [InlineData(new string[0], "the term (a positive number")]
    [InlineData(new[] { "-3" }, "unexpected argument '-3'")]
    [InlineData(new[] { "12", "13" }, "unexpected argument '13'")]
    public async Task Accept_term_without_one_term_is_a_usage_error(string[] args, string expected)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        Assert.Equal(64, await RedisAgent.Cli.AcceptTermCommand.RunAsync(args, output, error));
        Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
    }
}
