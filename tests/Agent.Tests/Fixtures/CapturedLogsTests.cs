using Microsoft.Extensions.Logging;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Fixtures;

/// <summary>Issue 19: the fixtures fail a test on a log line that is a bug whatever the test does.</summary>
public sealed class CapturedLogsTests
{
    [Fact]
    public void A_loop_that_failed_and_carried_on_fails_the_test_and_an_expected_error_does_not()
    {
        var logs = new CapturedLogs();
        var agent = logs.CreateLogger("RedisAgent.Supervision.Supervisor");
        agent.Log(LogLevel.Error, new EventId(1105), "Restart with the exec driver failed: as the test wanted");
        logs.ThrowIfUnexpected("the agent");

        agent.Log(LogLevel.Error, new EventId(1199), "The supervisor loop failed and carries on: NullReferenceException");
        var failure = Assert.Throws<InvalidOperationException>(() => logs.ThrowIfUnexpected("the agent"));
        Assert.Contains("[1199] The supervisor loop failed", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_background_service_the_host_saw_die_fails_the_test()
    {
        var logs = new CapturedLogs();
        logs.CreateLogger("Microsoft.Extensions.Hosting.Internal.Host").Log(LogLevel.Error, new EventId(9), "BackgroundService failed");

        Assert.Single(logs.Unexpected());
        Assert.Throws<InvalidOperationException>(() => logs.ThrowIfUnexpected("the agent"));
    }
}
