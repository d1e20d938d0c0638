using System.Collections.Concurrent;
using System.Diagnostics;

namespace RedisAgent.Testing;

/// <summary>
/// The real <c>redis-agent</c> binary (built beside the tests) as a child process: its output
/// captured, waited on for a line, stopped with SIGTERM (then SIGKILL) on dispose.
/// </summary>
public sealed class AgentProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private Task _exited = Task.CompletedTask;

    private AgentProcess(Process process)
    {
        _process = process;
    }

    public static string BinaryPath => Binaries.Path("redis-agent");

    public int ProcessId => _process.Id;

    public string Output => string.Join('\n', _output);

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Starts the agent with exactly <paramref name="environment"/> on top of a clean one (no REDIS_URL leaks in).</summary>
    public static AgentProcess Start(IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        StartBinary(BinaryPath, environment, arguments);

    /// <summary>Like <see cref="Start"/>, for another binary (a published redis-agent, redis-failover).</summary>
    public static AgentProcess StartBinary(string binary, IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        Launch(binary, environment, arguments, onLine: null);

    /// <summary>Like <see cref="StartBinary(string, IReadOnlyDictionary{string, string}, string[])"/>, handing each output line to <paramref name="onLine"/> instead of keeping it (for a long run).</summary>
    public static AgentProcess StartBinary(string binary, IReadOnlyDictionary<string, string> environment, Action<string> onLine) =>
        Launch(binary, environment, [], onLine);

    private static AgentProcess Launch(string binary, IReadOnlyDictionary<string, string> environment, string[] arguments, Action<string>? onLine)
    {
        var startInfo = new ProcessStartInfo(binary, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        startInfo.Environment.Remove("REDIS_URL");
        foreach (var key in startInfo.Environment.Keys.Where(k => k.Contains("__", StringComparison.Ordinal)).ToList())
        {
            startInfo.Environment.Remove(key);
        }

        // Many agents run at once in tests: each takes any free port unless the test says otherwise.
        startInfo.Environment["Urls"] = "http://127.0.0.1:0";
        foreach (var (key, value) in environment)
        {
            startInfo.Environment[key] = value;
        }

        var process = new Process { StartInfo = startInfo };
        var agent = new AgentProcess(process);
        Action<string?> handle = onLine is null ? agent.Keep : line =>
        {
            if (line is not null)
            {
                onLine(line);
            }
        };
        process.OutputDataReceived += (_, e) => handle(e.Data);
        process.ErrorDataReceived += (_, e) => handle(e.Data);
        process.Start();
        agent._exited = process.WaitForExitAsync();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return agent;
    }

    public Task WaitForOutputAsync(string text, TimeSpan timeout) =>
        Poll.UntilAsync(() => Output.Contains(text, StringComparison.Ordinal), timeout, () => $"the agent did not print '{text}'. Output:\n{Output}");

    /// <summary>Waits for the agent to exit on its own and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _exited.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The agent did not exit within {timeout}. Output:\n{Output}");
        }

        return _process.ExitCode;
    }

    public void Signal(int signal) => Signals.Send(_process.Id, signal);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Signal(Signals.SigTerm);
            try
            {
                await _exited.WaitAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                Signal(Signals.SigKill);
                await _exited.ConfigureAwait(false);
            }
        }

        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
        }
    }
}
