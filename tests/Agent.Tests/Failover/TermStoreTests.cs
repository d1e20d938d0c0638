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
}
