using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace RedisAgent.Testing;

/// <summary>How a test wants its redis-server.</summary>
public sealed record RedisServerOptions
{
    /// <summary>Loopback address to bind (an alias such as 127.0.0.11 for a "host").</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>requirepass, if any.</summary>
    public string? Password { get; init; }

    /// <summary>Extra arguments, e.g. <c>["--appendonly", "yes"]</c>.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>
    /// Run as a daemon (<c>--daemonize yes</c> with a pidfile), the way an init system or a restart
    /// command would, instead of as this test's child.
    /// </summary>
    public bool Daemonize { get; init; }

    /// <summary>Serve TLS only, with these certificates (the port is then the TLS port).</summary>
    public TestCertificates? Tls { get; init; }
}

/// <summary>
/// A real redis-server on loopback for one test: started, waited for (PING), killed by pid on
/// dispose, with its output kept for failure messages.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    public const string Binary = "/usr/bin/redis-server";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);

    private readonly ConcurrentQueue<string> _output = new();
    private readonly HashSet<int> _pids = [];
    private readonly TempDirectory _directory;
    private Process? _child;

    private RedisServer(RedisServerOptions options, int port, TempDirectory directory)
    {
        Options = options;
        Port = port;
        _directory = directory;
    }

    public RedisServerOptions Options { get; }

    public string Host => Options.Host;

    public int Port { get; }

    public string Directory => _directory.Path;

    public string PidFile => _directory.File("redis.pid");

    public string LogFile => _directory.File("redis.log");

    public string Url => (Options.Tls is null ? "redis" : "rediss") + "://" +
                         (Options.Password is null ? "" : $":{Uri.EscapeDataString(Options.Password)}@") + $"{Host}:{Port}";

    /// <summary>The command line that starts this server as a daemon: what a restart command runs.</summary>
    public string DaemonCommand => string.Join(' ', CommandLine().Select(ShellQuote));

    /// <summary><see cref="DaemonCommand"/> followed by the agent's <c>$REDIS_AGENT_START_ARGS</c> (its start fence), as a restart command that honours it is written.</summary>
    public string FenceableDaemonCommand => DaemonCommand + " $REDIS_AGENT_START_ARGS";

    public static async Task<RedisServer> StartAsync(RedisServerOptions? options = null)
    {
        options ??= new RedisServerOptions();
        for (var attempt = 1; ; attempt++)
        {
            var server = new RedisServer(options, LoopbackPorts.Free(System.Net.IPAddress.Parse(options.Host)), new TempDirectory("redis"));
            try
            {
                await server.LaunchAsync().ConfigureAwait(false);
                return server;
            }
            catch (Exception) when (attempt < 3 && server.Output.Contains("Address already in use", StringComparison.Ordinal))
            {
                // Another test took the port between our probe and the bind: take another.
                await server.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Starts a server on a given port (one a test has already pointed something at).</summary>
    public static async Task<RedisServer> StartAsync(RedisServerOptions? options, int port)
    {
        var server = new RedisServer(options ?? new RedisServerOptions(), port, new TempDirectory("redis"));
        try
        {
            await server.LaunchAsync().ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Everything the server printed (stdout, or its log file when daemonized).</summary>
    public string Output
    {
        get
        {
            var text = string.Join('\n', _output);
            if (Options.Daemonize && File.Exists(LogFile))
            {
                try
                {
                    text += File.ReadAllText(LogFile);
                }
                catch (IOException)
                {
                    // Being written; the next read will have it.
                }
            }

            return text;
        }
    }

    /// <summary>The pid serving the port now (it changes when something restarts the server).</summary>
    public async Task<int> ProcessIdAsync()
    {
        var pid = await Resp.ProcessIdAsync(Host, Port, Options.Password, Options.Tls?.CaFile).ConfigureAwait(false);
        Track(pid);
        return pid;
    }

    public Task<bool> PingsAsync() => Resp.PingsAsync(Host, Port, Options.Password, Options.Tls?.CaFile);

    public async Task<RespClient> ConnectAsync() =>
        await RespClient.ConnectAsync(Host, Port, Options.Password, Options.Tls?.CaFile).ConfigureAwait(false);

    /// <summary>Remembers a pid that served this port, so dispose can kill it even if an agent started it.</summary>
    public void Track(int pid)
    {
        lock (_pids)
        {
            _pids.Add(pid);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Options.Daemonize && File.Exists(PidFile)
            && int.TryParse(File.ReadAllText(PidFile).Trim(), CultureInfo.InvariantCulture, out var daemon))
        {
            Track(daemon);
        }

        int[] pids;
        lock (_pids)
        {
            pids = [.. _pids];
        }

        foreach (var pid in pids)
        {
            // A stopped process must be continued to die promptly.
            Signals.Send(pid, Signals.SigKill);
            Signals.Send(pid, Signals.SigCont);
        }

        if (_child is not null)
        {
            await _child.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            _child.Dispose();
        }

        _directory.Dispose();
    }

    private IEnumerable<string> CommandLine()
    {
        yield return Binary;
        foreach (var argument in BaseArguments())
        {
            yield return argument;
        }
    }

    private List<string> BaseArguments()
    {
        var arguments = new List<string> { "--bind", Host };
        arguments.AddRange(Options.Tls?.RedisArguments(Port) ?? ["--port", Port.ToString(CultureInfo.InvariantCulture)]);
        arguments.AddRange(["--protected-mode", "no", "--dir", Directory, "--save", "", "--appendonly", "no"]);
        if (Options.Password is not null)
        {
            arguments.AddRange(["--requirepass", Options.Password]);
        }

        if (Options.Daemonize)
        {
            arguments.AddRange(["--daemonize", "yes", "--pidfile", PidFile, "--logfile", LogFile]);
        }
        else
        {
            arguments.AddRange(["--daemonize", "no", "--logfile", ""]);
        }

        arguments.AddRange(Options.Arguments);
        return arguments;
    }

    private async Task LaunchAsync()
    {
        var startInfo = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in BaseArguments())
        {
            startInfo.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (Options.Daemonize)
        {
            // The launcher forks the daemon and exits; the daemon's pid is in the pidfile.
            await process.WaitForExitAsync().WaitAsync(StartTimeout).ConfigureAwait(false);
            process.Dispose();
        }
        else
        {
            _child = process;
            Track(process.Id);
        }

        var clock = Stopwatch.StartNew();
        // Over TLS too: the test client speaks it, trusting the server's test CA.
        while (!await PingsAsync().ConfigureAwait(false))
        {
            if (_child is { HasExited: true } || clock.Elapsed > StartTimeout)
            {
                throw new InvalidOperationException($"redis-server on {Host}:{Port} did not answer PING. Output:\n{Output}");
            }

            await Task.Delay(10).ConfigureAwait(false);
        }

        await ProcessIdAsync().ConfigureAwait(false);
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 500 && _output.TryDequeue(out _))
        {
        }
    }

    private static string ShellQuote(string value) =>
        value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=@".Contains(c, StringComparison.Ordinal))
            ? value
            : "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
