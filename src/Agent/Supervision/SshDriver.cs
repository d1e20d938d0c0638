using Microsoft.Extensions.Logging;
using RedisAgent.HostProbing;
using RedisAgent.Node;

namespace RedisAgent.Supervision;

/// <summary>
/// Restarts Redis by running a command on the node's host over SSH (the node's <c>Ssh</c>
/// settings, host key pinned), for an agent that does not sit on that host. A fresh connection
/// per restart: restarts are rare, and a kept session is exactly what may have died with the process.
/// The start arguments (the fence of a restart no coordinator has vouched for) reach the command as
/// <c>$REDIS_AGENT_START_ARGS</c>, as the command driver's do: a command that starts redis-server
/// with it (<c>redis-server /etc/redis/redis.conf $REDIS_AGENT_START_ARGS</c>) refuses writes from its
/// first command.
/// </summary>
internal sealed partial class SshDriver(HostProbe host, string command, TimeSpan timeout, ILogger<SshDriver> logger) : IRestartDriver
{
    private const int OutputTail = 2048;

    public string Name => "ssh";

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task RestartAsync(RestartCause cause, CancellationToken cancellationToken)
    {
        Log.Running(logger, host.Ssh.Address);
        int? exitStatus;
        string output;
        try
        {
            (exitStatus, output) = await host.RunAsync(CommandFor(command, cause), timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new RestartFailedException($"the ssh driver's command on {host.Ssh.Address} did not finish within {timeout.TotalSeconds:0.#} s");
        }
        catch (Exception ex) when (ex is Renci.SshNet.Common.SshException or System.Net.Sockets.SocketException or IOException)
        {
            throw new RestartFailedException($"the ssh driver could not run its command on {host.Ssh.Address}: {ex.Message}", ex);
        }

        if (exitStatus != 0)
        {
            var tail = output.Length > OutputTail ? "..." + output[^OutputTail..] : output;
            throw new RestartFailedException(
                $"the ssh driver's command on {host.Ssh.Address} ended with exit code {exitStatus?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}; " +
                (tail.Length == 0 ? "it printed nothing" : "it printed: " + tail.ReplaceLineEndings(" | ")));
        }
    }

    /// <summary>
    /// The remote command: <c>$REDIS_AGENT_START_ARGS</c> exported (empty when there are none), then
    /// <paramref name="command"/>, for the POSIX shell sshd runs it with. The arguments are the
    /// agent's own words (never a user's), single-quoted all the same.
    /// </summary>
    internal static string CommandFor(string command, RestartCause cause) =>
        $"export {CommandDriver.StartArgumentsVariable}='{string.Join(' ', cause.StartArguments ?? []).Replace("'", "'\\''", StringComparison.Ordinal)}'; {command}";

    private static partial class Log
    {
        [LoggerMessage(EventId = 1302, Level = LogLevel.Debug, Message = "The ssh driver runs its restart command on {Address}")]
        public static partial void Running(ILogger logger, string address);
    }
}
