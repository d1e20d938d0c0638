using System.Diagnostics;
using RedisAgent.Supervision;
using RedisAgent.Node;

namespace RedisAgent.Tests.Supervision;

/// <summary>
/// Issue 14: the ssh driver hands the start arguments (the fence of a restart no coordinator has
/// vouched for) to its command as $REDIS_AGENT_START_ARGS, as the command driver does; a real
/// POSIX shell reads back exactly the arguments given.
/// </summary>
public sealed class SshDriverCommandTests
{
    [Theory]
    [InlineData(null, "")]
    [InlineData(new[] { "--min-replicas-to-write", "2147483647" }, "--min-replicas-to-write 2147483647")]
    [InlineData(new[] { "it's", "$(touch /tmp/never)", "`x`" }, "it's $(touch /tmp/never) `x`")]
    public async Task The_start_arguments_reach_the_command_exactly(string[]? arguments, string expected)
    {
        var cause = new RestartCause(RestartTrigger.Exited, "test", arguments);
        var command = SshDriver.CommandFor("printf '[%s]' \"$REDIS_AGENT_START_ARGS\"", cause);

        var startInfo = new ProcessStartInfo("/bin/sh", ["-c", command]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var shell = Process.Start(startInfo)!;
        var output = await shell.StandardOutput.ReadToEndAsync();
        await shell.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(0, shell.ExitCode);
        Assert.Equal($"[{expected}]", output);
    }
}
