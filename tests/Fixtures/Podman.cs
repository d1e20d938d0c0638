using System.Diagnostics;
using System.Text;

namespace RedisAgent.Testing;

/// <summary>
/// Debian's podman, as it works on these machines (runc and cgroupfs: crun and the cgroup v2 defaults
/// do not), and any other command a test runs to its end.
/// </summary>
public static class Podman
{
    private static readonly string[] Global = ["--runtime", "runc", "--cgroup-manager", "cgroupfs"];

    /// <summary>Runs podman with <paramref name="arguments"/>; its exit code and its output (stdout then stderr).</summary>
    /// <remarks>
    /// <c>podman run</c> gets explicit ulimits: the defaults it would set are refused here (runc:
    /// "error setting rlimits ... operation not permitted").
    /// </remarks>
    public static Task<(int Code, string Output)> RunAsync(TimeSpan budget, params string[] arguments) =>
        Commands.RunAsync("podman", budget, arguments is ["run", .. var rest]
            ? [.. Global, "run", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", .. rest]
            : [.. Global, .. arguments]);

    /// <summary>Gives <paramref name="path"/> (and what is under it) to <paramref name="uid"/>, as an orchestrator's mounted secrets are.</summary>
    public static void Chown(string path, int uid)
    {
        var (code, output) = Commands.RunAsync("chown", TimeSpan.FromSeconds(30), "-R", $"{uid}:{uid}", path).GetAwaiter().GetResult();
        if (code != 0)
        {
            throw new InvalidOperationException($"chown {uid} {path}: exit {code}: {output}");
        }
    }
}

/// <summary>A command run to its end within a budget (killed, with its children, past it).</summary>
public static class Commands
{
    public static async Task<(int Code, string Output)> RunAsync(string file, TimeSpan budget, params string[] arguments)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(budget).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not end within {budget.TotalSeconds:0} s");
        }

        var text = new StringBuilder(await output.ConfigureAwait(false)).Append(await error.ConfigureAwait(false)).ToString();
        return (process.ExitCode, text);
    }
}
