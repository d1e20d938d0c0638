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
    public void NextDelay_FirstFailure_IsImmediate()
    {
        var policy = new RestartPolicy(_options);

        policy.OnFailure(T0);

        Assert.Equal(TimeSpan.Zero, policy.NextDelay(jitter: 0.7));
    }

    [Fact]
    public void NextDelay_ConsecutiveRestarts_DoubleWithinJitterBoundsUpToTheCap()
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
    public void OnFailure_AfterAStablePeriod_ResetsTheBackoff()
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
    public void OnFailure_HealthyForLessThanTheStablePeriod_KeepsTheBackoff()
    {
        var policy = new RestartPolicy(_options);
        policy.RecordRestart(T0);
        policy.OnHealthy(T0.AddSeconds(1));

        policy.OnFailure(T0.AddSeconds(10));

        Assert.Equal(1, policy.Consecutive);
        Assert.True(policy.NextDelay(0.5) > TimeSpan.Zero);
    }

    [Fact]
    public void IsLimitReached_AfterBurstWithinInterval_IsTrue()
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
    public void IsLimitReached_OldRestartsLeaveTheWindow()
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
