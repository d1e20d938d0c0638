using RedisAgent.Supervision;

namespace RedisAgent.Tests.Supervision;

public sealed class RestartPolicyTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 8, 0, 0, TimeSpan.Zero);

    private readonly RestartOptions _options = new()
    {
        InitialBackoff = TimeSpan.FromMilliseconds(200),
        MaxBackoff = TimeSpan.FromSeconds(2),
        StablePeriod = TimeSpan.FromSeconds(30),
        StartLimitBurst = 5,
        StartLimitInterval = TimeSpan.FromSeconds(60),
    };

    [Fact]
    public void Next_delay_first_failure_is_immediate()
    {
        var policy = new RestartPolicy(_options);

        policy.OnFailure(T0);

        Assert.Equal(TimeSpan.Zero, policy.NextDelay(jitter: 0.7));
    }

    [Fact]
    public void Next_delay_consecutive_restarts_double_within_jitter_bounds_up_to_the_cap()
    {
        var policy = new RestartPolicy(_options);
        var expectedCeilings = new[] { 0, 200, 400, 800, 1600, 2000, 2000 };
        foreach (var ceiling in expectedCeilings)
        {
            var low = policy.NextDelay(jitter: 0);
            var high = policy.NextDelay(jitter: 1);
            Assert.Equal(TimeSpan.FromMilliseconds(ceiling / 2.0), low);
            Assert.Equal(TimeSpan.FromMilliseconds(ceiling), high);
            policy.RecordRestart(T0);
        }
    }

    [Fact]
    public void On_failure_after_a_stable_period_resets_the_backoff()
    {
        var policy = new RestartPolicy(_options);
        policy.RecordRestart(T0);
        policy.RecordRestart(T0.AddSeconds(1));
        policy.OnHealthy(T0.AddSeconds(2));

        policy.OnFailure(T0.AddSeconds(40));

        Assert.Equal(0, policy.Consecutive);
        Assert.Equal(TimeSpan.Zero, policy.NextDelay(0.5));
    }

    [Fact]
    public void On_failure_healthy_for_less_than_the_stable_period_keeps_the_backoff()
    {
        var policy = new RestartPolicy(_options);
        policy.RecordRestart(T0);
        policy.OnHealthy(T0.AddSeconds(1));

        policy.OnFailure(T0.AddSeconds(10));

        Assert.Equal(1, policy.Consecutive);
        Assert.True(policy.NextDelay(0.5) > TimeSpan.Zero);
    }

    [Fact]
    public void Is_limit_reached_after_burst_within_interval_is_true()
    {
        var policy = new RestartPolicy(_options);
        for (var i = 0; i < 4; i++)
        {
            policy.RecordRestart(T0.AddSeconds(i * 10));
        }

        Assert.False(policy.IsLimitReached(T0.AddSeconds(40)));
        policy.RecordRestart(T0.AddSeconds(45));
        Assert.True(policy.IsLimitReached(T0.AddSeconds(46)));
    }

    [Fact]
    public void Is_limit_reached_old_restarts_leave_the_window()
    {
        var policy = new RestartPolicy(_options);
        for (var i = 0; i < 5; i++)
        {
            policy.RecordRestart(T0.AddSeconds(i));
        }

        Assert.True(policy.IsLimitReached(T0.AddSeconds(59)));
        Assert.False(policy.IsLimitReached(T0.AddSeconds(60.5)));
    }
}
