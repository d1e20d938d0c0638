using System.Diagnostics;
using RedisAgent.Testing;

namespace RedisAgent.Demo;

/// <summary>
/// A redis-agent or redis-failover process the demo started: its output forwarded line by line
/// under a prefix, stopped with SIGTERM (SIGKILL after a grace period) by its own pid.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Task _exited;

    private ChildProcess(string name, Process process)
    {
        Name = name;
        _process = process;
        _exited = process.WaitForExitAsync();
    }

    public string Name { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Starts <paramref name="binary"/> with a clean configuration environment plus <paramref name="environment"/>.</summary>
    public static ChildProcess Start(string name, string binary, IReadOnlyDictionary<string, string> environment, Action<string, string> output)
    {
        var startInfo = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        startInfo.Environment.Remove("REDIS_URL");
        foreach (var key in startInfo.Environment.Keys.Where(k => k.Contains("__", StringComparison.Ordinal)).ToList())
        {
            startInfo.Environment.Remove(key);
        }

        foreach (var (key, value) in environment)
        {
            startInfo.Environment[key] = value;
        }

        var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                output(name, line);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                output(name, line);
            }
        };
        process.Start();
        var child = new ChildProcess(name, process);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>SIGTERM, then SIGKILL if it has not exited within <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }

        Signals.Send(_process.Id, Signals.SigTerm);
        try
        {
            await _exited.WaitAsync(grace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Signals.Send(_process.Id, Signals.SigKill);
            await _exited.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        _process.Dispose();
    }
}
