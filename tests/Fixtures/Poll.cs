using System.Diagnostics;

namespace RedisAgent.Testing;

/// <summary>Waits for a condition with a deadline: the only way tests wait for each other's processes.</summary>
public static class Poll
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(20);

    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"Not true within {timeout.TotalSeconds:0.#} s: {describe()}");
            }

            await Task.Delay(Step).ConfigureAwait(false);
        }
    }

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> describe)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition().ConfigureAwait(false))
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"Not true within {timeout.TotalSeconds:0.#} s: {describe()}");
            }

            await Task.Delay(Step).ConfigureAwait(false);
        }
    }

    /// <summary>Fails as soon as <paramref name="condition"/> is false within <paramref name="duration"/>: for what must not happen.</summary>
    public static async Task HoldsAsync(Func<bool> condition, TimeSpan duration, Func<string> describe)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            if (!condition())
            {
                throw new InvalidOperationException($"No longer true after {clock.Elapsed.TotalSeconds:0.#} s: {describe()}");
            }

            await Task.Delay(Step).ConfigureAwait(false);
        }
    }
}
