using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using RedisAgent.Node;

namespace RedisAgent.Supervision;

/// <summary>
/// Restarts Redis by running a command line with <c>/bin/sh -c</c>: <c>systemctl restart
/// redis-server</c>, a container restart, a script. The command owns the process; the agent only
/// decides when. A hung server is left to the command to kill (systemctl and container runtimes
/// do: TERM, then KILL).
/// </summary>
internal sealed partial class CommandDriver(string name, string command, TimeSpan timeout, TimeProvider time, ILogger<CommandDriver> logger)
    : IRestartDriver
{
    private const int OutputTail = 2048;

    public string Name => name;

    /// <summary>The environment variable that carries <see cref="RestartCause.StartArguments"/> to the command.</summary>
    public const string StartArgumentsVariable = "REDIS_AGENT_START_ARGS";

    public static CommandDriver Systemd(string unit, TimeSpan timeout, TimeProvider time, ILogger<CommandDriver> logger) =>
        new("systemd", SystemdCommand(unit), timeout, time, logger);

    /// <summary>
    /// The systemd preset's command line; the unit name is validated at start, so no quoting is needed.
    /// A unit takes no arguments from <c>systemctl restart</c>, so this start's (the start fence, or
    /// none) go into the manager's environment first, where a unit whose <c>ExecStart=</c> names
    /// <c>$REDIS_AGENT_START_ARGS</c> reads them (deploy/systemd/redis-server.service.d/redis-agent.conf).
    /// The restart goes ahead even if that is refused (its exit status is the command's): the agent
    /// then fences the node once it answers, as for any unit that ignores the variable.
    /// </summary>
    public static string SystemdCommand(string unit) =>
        $"systemctl set-environment \"{StartArgumentsVariable}=${StartArgumentsVariable}\"; systemctl restart {unit}";

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task RestartAsync(RestartCause cause, CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add("-c");
        startInfo.ArgumentList.Add(command);
        // For a command that starts redis-server itself: the arguments this start needs (the start
        // fence), empty when none. A command that ignores it is fenced by the agent once Redis answers.
        startInfo.Environment[StartArgumentsVariable] = string.Join(' ', cause.StartArguments ?? []);

        using var process = new Process { StartInfo = startInfo };
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new RestartFailedException($"could not run /bin/sh for the {name} driver: {ex.Message}", ex);
        }

        var exited = ChildProcess.WhenExited(process);
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        Log.CommandStarted(logger, name, process.Id);

        try
        {
            await exited.WaitAsync(timeout, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new RestartFailedException($"the {name} driver's command did not finish within {timeout.TotalSeconds:0.#} s; {Tail(output)}");
        }

        var status = ExitStatus.FromProcessExitCode(process.ExitCode);
        if (status.Code != 0)
        {
            // The exit can be seen before the last lines arrive; a failure's message needs them.
            await DrainOutputAsync(process).ConfigureAwait(false);
            throw new RestartFailedException($"the {name} driver's command ended with {status}; {Tail(output)}");
        }
    }

    private async Task DrainOutputAsync(Process process)
    {
        try
        {
            // Bounded: a background child of the command may hold the pipes open indefinitely.
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(1), time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
            if (output.Length > OutputTail * 2)
            {
                output.Remove(0, output.Length - OutputTail);
            }
        }
    }

    private static string Tail(StringBuilder output)
    {
        lock (output)
        {
            var text = output.ToString().Trim();
            if (text.Length == 0)
            {
                return "it printed nothing";
            }

            return "it printed: " + (text.Length > OutputTail ? "..." + text[^OutputTail..] : text).ReplaceLineEndings(" | ");
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1301, Level = LogLevel.Debug, Message = "The {Driver} driver's command started as pid {Pid}")]
        public static partial void CommandStarted(ILogger logger, string driver, int pid);
    }
}
