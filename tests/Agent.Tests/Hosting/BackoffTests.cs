using RedisAgent.Hosting;

namespace RedisAgent.Tests.Hosting;

public sealed class BackoffTests
{
    [Fact]
    public void Each_wait_is_between_half_and_all_of_a_step_that_doubles_up_to_the_cap()
    {
        var low = new Backoff(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1), () => 0);
        var high = new Backoff(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1), () => 1);
        var middle = new Backoff(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1), () => 0.5);

        Assert.Equal([125, 250, 500, 500], Enumerable.Range(0, 4).Select(_ => (int)low.Next().TotalMilliseconds));
        Assert.Equal([250, 500, 1000, 1000], Enumerable.Range(0, 4).Select(_ => (int)high.Next().TotalMilliseconds));
        Assert.Equal([187.5, 375, 750, 750], Enumerable.Range(0, 4).Select(_ => middle.Next().TotalMilliseconds));
    }

    [Fact]
    public void A_success_starts_again_from_the_first_step_and_a_refusal_holds_a_long_one()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5), () => 0);
        backoff.Next();
        backoff.Next();

        backoff.Reset();
        Assert.Equal(TimeSpan.FromMilliseconds(250), backoff.Step);

        backoff.Hold(TimeSpan.FromSeconds(30));
        Assert.Equal(TimeSpan.FromSeconds(15), backoff.Next());
        Assert.Equal(TimeSpan.FromSeconds(5), backoff.Step);
    }
}
