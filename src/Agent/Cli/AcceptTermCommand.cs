using System.Globalization;
using RedisAgent.Coordination;

namespace RedisAgent.Cli;

/// <summary>
/// <c>redis-agent accept-term N [--state-directory DIR]</c>: an operator's confirmation that the
/// coordinator's term N is genuine, for an agent that refused it as too far above the highest it had
/// seen (<c>Coordinator:MaxTermJump</c>). That one term is accepted once, at its next command.
/// </summary>
internal static class AcceptTermCommand
{
    public const string Usage = "usage: redis-agent accept-term TERM [--state-directory DIR]   (default: the agent's own, Agent:StateDirectory's default)";

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        long? term = null;
        string? directory = null;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--state-directory" && i + 1 < args.Length)
            {
                directory = args[++i];
            }
            else if (term is null && long.TryParse(args[i], NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed > 0)
            {
                term = parsed;
            }
            else
            {
                await error.WriteLineAsync($"redis-agent accept-term: unexpected argument '{RedisShared.Hosting.Quoted.Printable(args[i])}'\n{Usage}").ConfigureAwait(false);
                return LogsCommand.UsageExitCode;
            }
        }

        if (term is null)
        {
            await error.WriteLineAsync($"redis-agent accept-term: the term (a positive number, as the agent's log names it) is required\n{Usage}").ConfigureAwait(false);
            return LogsCommand.UsageExitCode;
        }

        directory ??= new Connection.AgentOptions().ResolveStateDirectory();
        try
        {
            TermStore.Confirm(directory, term.Value);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"redis-agent accept-term: cannot write to '{directory}': {ex.Message}").ConfigureAwait(false);
            return 70;
        }

        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"term {term} will be accepted once, at the coordinator's next command or connection (state directory {directory})")).ConfigureAwait(false);
        return 0;
    }
}
