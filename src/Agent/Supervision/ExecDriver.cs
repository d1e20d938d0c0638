using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using RedisAgent.Connection;
using RedisAgent.Hosting;
using RedisAgent.Node;

namespace RedisAgent.Supervision;

/// <summary>
/// Runs <c>redis-server</c> as the agent's own child. Its exit is known the moment it happens
/// (no probe has to notice), which makes this the fastest driver. Stopping the agent stops the
/// server gracefully (SIGTERM, so it can save), like a service manager would.
/// </summary>
internal sealed partial class ExecDriver : IRestartDriver, IDisposable
{
    private readonly ExecOptions _options;

    // The current child's output readers: awaited on stop, so that what Redis says while it saves
    // and exits ("DB saved on disk") reaches the logs before the agent is gone.
    private Task _output = Task.CompletedTask;
    private readonly RedisEndpoint _endpoint;
    private readonly string _stateDirectory;
    private readonly bool _installIfMissing;
    private readonly SupervisorInbox _inbox;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ILogger _redisLogger;
    private readonly Logs.RedisLogIngest? _logs;
    private readonly SecretRedactor _redactor;
    private readonly Lock _lock = new();
    private readonly HashSet<int> _expectedExits = [];
    private ExecLaunch? _launch;
    private ExecPidFile? _pidFile;
    private Process? _process;

    public ExecDriver(
        ExecOptions options,
        RedisEndpoint endpoint,
        string stateDirectory,
        bool installIfMissing,
        SupervisorInbox inbox,
        TimeProvider time,
        ILoggerFactory loggers,
        SecretRedactor? redactor = null,
        Logs.RedisLogIngest? logs = null)
    {
        _redactor = redactor ?? new SecretRedactor(endpoint);
        _logs = logs;
        _options = options;
        _endpoint = endpoint;
        _stateDirectory = stateDirectory;
        _installIfMissing = installIfMissing;
        _inbox = inbox;
        _time = time;
        _logger = loggers.CreateLogger<ExecDriver>();
        _redisLogger = loggers.CreateLogger("redis");
    }

    public string Name => "exec";

    /// <summary>The pid of the running server, if any.</summary>
    public int? ProcessId
    {
        get
        {
            lock (_lock)
            {
                return _process is { } p && !ChildProcess.HasExited(p) ? p.Id : null;
            }
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var fileName = await ResolveBinaryAsync(cancellationToken).ConfigureAwait(false);
        var pidFile = ExecPidFile.For(_stateDirectory, _endpoint.Port);
        if (pidFile.FindRunning(fileName) is { } orphan)
        {
            // An earlier agent of this state directory was killed (SIGKILL, OOM) and left its server
            // running, its output pipe broken. Stop it the way a stop does (SIGTERM: it saves), then
            // start afresh as our own child, so its exit and its lines are ours again.
            Log.OrphanFound(_logger, orphan, pidFile.Path);
            await StopOrphanAsync(orphan, cancellationToken).ConfigureAwait(false);
        }

        if (await PortAnswersAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new AgentConfigurationException(
                $"Something already listens on {_endpoint.HostAndPort}, and Restart:Driver is exec: the agent would start a second " +
                "redis-server there. Stop the other server, point REDIS_URL at a free port, or set Restart:Driver to command or " +
                "systemd to supervise the running one.");
        }

        _launch = ExecLaunch.Create(fileName, _options, _endpoint, _stateDirectory);
        _pidFile = pidFile;
        Launch();
    }

    private async Task StopOrphanAsync(int pid, CancellationToken cancellationToken)
    {
        ChildProcess.Signal(pid, ChildProcess.SigTerm);
        var started = _time.GetTimestamp();
        var killed = false;
        // Not our child: no exit event. Its new parent (init or a subreaper) reaps it; poll until it is gone.
        while (ExecPidFile.IsRunning(pid))
        {
            if (!killed && _time.GetElapsedTime(started) > _options.StopTimeout)
            {
                killed = true;
                Log.StopTimedOut(_logger, pid, _options.StopTimeout);
                ChildProcess.Signal(pid, ChildProcess.SigKill);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), _time, cancellationToken).ConfigureAwait(false);
        }

        Log.OrphanStopped(_logger, pid, _time.GetElapsedTime(started).TotalSeconds);
    }

    public async Task RestartAsync(RestartCause cause, CancellationToken cancellationToken)
    {
        await KillAsync(cancellationToken).ConfigureAwait(false);
        Launch(cause.StartArguments);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Process? process;
        lock (_lock)
        {
            process = _process;
            if (process is null || ChildProcess.HasExited(process))
            {
                return;
            }

            _expectedExits.Add(process.Id);
        }

        var exited = ChildProcess.WhenExited(process);
        Log.Stopping(_logger, process.Id);
        ChildProcess.Signal(process.Id, ChildProcess.SigTerm);
        try
        {
            // Not the host's token: Redis gets the whole StopTimeout to save, whatever else ran late in
            // the shutdown. A SIGKILL before the save is data lost; the host's own shutdown timeout is
            // set longer than StopTimeout (AgentHost) so that it never cuts this wait short.
            await exited.WaitAsync(_options.StopTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.StopTimedOut(_logger, process.Id, _options.StopTimeout);
            process.Kill();
            await exited.ConfigureAwait(false);
        }

        Task output;
        lock (_lock)
        {
            output = _output;
        }

        try
        {
            // The pipes close with the process; a grandchild that kept them open is not waited for long.
            await output.WaitAsync(TimeSpan.FromSeconds(2), _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        _pidFile?.Delete();
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _process?.Dispose();
            _process = null;
        }
    }

    private void Launch(IReadOnlyList<string>? startArguments = null)
    {
        var launch = _launch ?? throw new InvalidOperationException("The exec driver was not started.");
        // In a session of its own, the server does not get the terminal's Ctrl-C (or a process-group
        // kill meant for the agent): only the agent decides when it stops. setsid execs in place, so
        // the pid is the server's own.
        var setsid = FindBinary("setsid");
        var startInfo = new ProcessStartInfo(setsid ?? launch.FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (setsid is not null)
        {
            startInfo.ArgumentList.Add(launch.FileName);
        }

        foreach (var argument in launch.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // This start only (a fence): a later restart starts as configured again.
        foreach (var argument in startArguments ?? [])
        {
            startInfo.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        process.Exited += OnExited;
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            process.Dispose();
            throw new RestartFailedException($"could not start {launch.FileName}: {ex.Message}", ex);
        }

        process.StandardInput.Close();
        // Raw bytes, split on '\n' only: the line reader of Process would also split on a '\r'
        // inside a line, and a line is worth shipping exactly as Redis wrote it.
        var readers = Task.WhenAll(ReadOutputAsync(process.StandardOutput.BaseStream), ReadOutputAsync(process.StandardError.BaseStream));
        lock (_lock)
        {
            _process?.Dispose();
            _process = process;
            _output = readers;
        }

        try
        {
            _pidFile?.Write(process.Id, launch.FileName);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Only a later agent's clean-up after a SIGKILL depends on it; the server runs either way.
            Log.PidFileFailed(_logger, _pidFile!.Path, ex.Message);
        }

        Log.Started(_logger, launch.FileName, process.Id, _endpoint.HostAndPort);
    }

    private void OnExited(object? sender, EventArgs e)
    {
        var process = (Process)sender!;
        int pid;
        ExitStatus status;
        try
        {
            pid = process.Id;
            status = ExitStatus.FromProcessExitCode(process.ExitCode);
        }
        catch (InvalidOperationException)
        {
            return; // disposed during shutdown
        }

        lock (_lock)
        {
            if (_expectedExits.Remove(pid))
            {
                return;
            }
        }

        _inbox.Post(new SupervisorSignal.ProcessExited(pid, status, _time.GetUtcNow()));
    }

    private async Task KillAsync(CancellationToken cancellationToken)
    {
        Process? process;
        lock (_lock)
        {
            process = _process;
            if (process is null || ChildProcess.HasExited(process))
            {
                return;
            }

            _expectedExits.Add(process.Id);
        }

        var exited = ChildProcess.WhenExited(process);
        try
        {
            process.Kill();
        }
        catch (InvalidOperationException)
        {
            // It exited on its own in the meantime: nothing left to kill.
        }

        await exited.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task ReadOutputAsync(Stream stream)
    {
        var splitter = new Logs.LineSplitter();
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer).ConfigureAwait(false)) > 0)
            {
                foreach (var line in splitter.Feed(buffer.AsSpan(0, read)))
                {
                    ForwardOutput(line);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The process is gone and its pipe with it.
        }

        ForwardOutput(splitter.Flush());
    }

    private void ForwardOutput(Logs.SplitLine? split)
    {
        if (split is not { } output || (output.Text.Length == 0 && output.DroppedBytes == 0))
        {
            return;
        }

        var line = output.Text;

        try
        {
            // Redis quotes a bad masterauth or requirepass in its own errors: no secret leaves in a line.
            Log.RedisOutput(_redisLogger, _logs?.Ingest(line, output.DroppedBytes) ?? _redactor.Redact(line));
        }
        catch (Exception ex)
        {
            // The reader must keep draining the pipe whatever a line does downstream, or Redis blocks writing to it.
            Log.OutputLineFailed(_logger, ex.GetType().Name, ex.Message);
        }
    }

    private async Task<bool> PortAnswersAsync(CancellationToken cancellationToken)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1), _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            if (IPAddress.TryParse(_endpoint.Host, out var address))
            {
                await socket.ConnectAsync(new IPEndPoint(address, _endpoint.Port), linked.Token).ConfigureAwait(false);
            }
            else
            {
                await socket.ConnectAsync(_endpoint.Host, _endpoint.Port, linked.Token).ConfigureAwait(false);
            }

            return true;
        }
        catch (Exception ex) when (ex is SocketException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return false;
        }
    }

    private async Task<string> ResolveBinaryAsync(CancellationToken cancellationToken)
    {
        if (FindBinary(_options.Path) is { } found)
        {
            return found;
        }

        if (_installIfMissing && Environment.IsPrivilegedProcess && FindBinary("apt-get") is { } aptGet)
        {
            Log.Installing(_logger);
            if (!await RunAsync(aptGet, ["install", "-y", "--no-install-recommends", "redis-server"], cancellationToken).ConfigureAwait(false))
            {
                // A fresh machine may have no package lists yet.
                await RunAsync(aptGet, ["update"], cancellationToken).ConfigureAwait(false);
                await RunAsync(aptGet, ["install", "-y", "--no-install-recommends", "redis-server"], cancellationToken).ConfigureAwait(false);
            }

            if (FindBinary(_options.Path) is { } installed)
            {
                return installed;
            }
        }

        throw new AgentConfigurationException(
            $"Exec:Path '{_options.Path}' was not found (looked on PATH, /usr/sbin, /usr/bin, /usr/local/bin). " +
            "Install Redis (Debian/Ubuntu: apt-get install redis-server) or set Exec:Path to the redis-server binary.");
    }

    internal static string? FindBinary(string name)
    {
        if (name.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(name) ? Path.GetFullPath(name) : null;
        }

        var directories = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]);
        return directories.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }

    private async Task<bool> RunAsync(string fileName, string[] arguments, CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo(fileName, arguments) { UseShellExecute = false };
        startInfo.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var process = Process.Start(startInfo)!;
        await ChildProcess.WhenExited(process).WaitAsync(cancellationToken).ConfigureAwait(false);
        Log.InstallStep(_logger, string.Join(' ', arguments), process.ExitCode);
        return process.ExitCode == 0;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Started {Binary} as pid {Pid} for {Endpoint}")]
        public static partial void Started(ILogger logger, string binary, int pid, string endpoint);

        [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "Stopping redis-server pid {Pid} (SIGTERM)")]
        public static partial void Stopping(ILogger logger, int pid);

        [LoggerMessage(EventId = 1203, Level = LogLevel.Warning, Message = "redis-server pid {Pid} did not stop within {Timeout}; killing it")]
        public static partial void StopTimedOut(ILogger logger, int pid, TimeSpan timeout);

        [LoggerMessage(EventId = 1204, Level = LogLevel.Warning, Message = "redis-server is not installed; installing the Debian package redis-server with apt-get")]
        public static partial void Installing(ILogger logger);

        [LoggerMessage(EventId = 1205, Level = LogLevel.Information, Message = "apt-get {Arguments} exited with {Code}")]
        public static partial void InstallStep(ILogger logger, string arguments, int code);

        [LoggerMessage(EventId = 1206, Level = LogLevel.Warning, Message = "redis-server pid {Pid} from an earlier agent is still running (pid file {PidFile}); stopping it with SIGTERM so that it saves, then starting afresh")]
        public static partial void OrphanFound(ILogger logger, int pid, string pidFile);

        [LoggerMessage(EventId = 1207, Level = LogLevel.Information, Message = "The earlier redis-server pid {Pid} stopped after {Seconds:0.0} s")]
        public static partial void OrphanStopped(ILogger logger, int pid, double seconds);

        [LoggerMessage(EventId = 1208, Level = LogLevel.Warning, Message = "Could not write the pid file {PidFile}: {Error}; an agent killed with SIGKILL will not find its server again")]
        public static partial void PidFileFailed(ILogger logger, string pidFile, string error);

        [LoggerMessage(EventId = 1211, Level = LogLevel.Error, Message = "A line of Redis's output failed in the log pipeline and was skipped: {Type}: {Message}")]
        public static partial void OutputLineFailed(ILogger logger, string type, string message);

        [LoggerMessage(EventId = 1210, Level = LogLevel.Information, Message = "{Line}")]
        public static partial void RedisOutput(ILogger logger, string line);
    }
}
