using RedisAgent.Supervision;
using RedisAgent.Node;

namespace RedisAgent.Tests.Supervision;

public sealed class ExitStatusTests
{
    [Theory]
    [InlineData(0, "exit code 0")]
    [InlineData(1, "exit code 1")]
    [InlineData(128, "exit code 128")]
    [InlineData(137, "killed by signal 9 (SIGKILL)")]
    [InlineData(139, "killed by signal 11 (SIGSEGV)")]
    [InlineData(143, "killed by signal 15 (SIGTERM)")]
    public void FromProcessExitCode_ReadsSignalsAboveOneTwentyEight(int code, string expected) =>
        Assert.Equal(expected, ExitStatus.FromProcessExitCode(code).ToString());

    [Fact]
    public void Systemd_command_hands_the_start_arguments_to_the_manager_then_restarts_the_unit() =>
        Assert.Equal("systemctl set-environment \"REDIS_AGENT_START_ARGS=$REDIS_AGENT_START_ARGS\"; systemctl restart redis-server@main.service",
            CommandDriver.SystemdCommand("redis-server@main.service"));
}
