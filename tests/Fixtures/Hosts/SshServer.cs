using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace RedisAgent.Testing.Hosts;

/// <summary>
/// A real sshd for one test host: its own host key, listening on the host's loopback alias,
/// authorizing one client key, run in the foreground (-D -e) and killed by pid on dispose.
/// </summary>
public sealed class SshServer : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/sshd";

    private readonly TempDirectory _directory = new("sshd");
    private readonly ConcurrentQueue<string> _output = new();
    private Process? _process;

    private SshServer(string address, int port)
    {
        Address = address;
        Port = port;
    }

    public string Address { get; }

    public int Port { get; }

    public string HostKeyFile => _directory.File("host_ed25519");

    /// <summary>The host key's fingerprint (<c>SHA256:...</c>), what an operator pins.</summary>
    public string HostKeySha256 => SshKeys.Fingerprint(HostKeyFile + ".pub");

    public string Output => string.Join('\n', _output);

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>sshd's pid while it runs.</summary>
    public int? ProcessId => _process is { HasExited: false } process ? process.Id : null;

    /// <param name="extraConfig">More sshd_config lines (a <c>ForceCommand</c>, say).</param>
    public static async Task<SshServer> StartAsync(string address, string authorizedPublicKeyFile, IReadOnlyList<string>? extraConfig = null)
    {
        var server = new SshServer(address, LoopbackPorts.Free(IPAddress.Parse(address)));
        SshKeys.Generate(server.HostKeyFile);
        File.Copy(authorizedPublicKeyFile, server._directory.File("authorized_keys"));
        string[] config =
        [
            $"ListenAddress {address}:{server.Port}",
            $"HostKey {server.HostKeyFile}",
            $"AuthorizedKeysFile {server._directory.File("authorized_keys")}",
            $"PidFile {server._directory.File("sshd.pid")}",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "MaxStartups 100:30:200",
            // bash reads ~/.bashrc for a command sent over SSH unless it is a nested shell: root's
            // here runs pyenv's init (0.3-2 s, and a lock several sessions contend for), which made
            // check commands time out. SHLVL=1 makes the login shell a nested one.
            "SetEnv SHLVL=1",
            "LogLevel ERROR",
            .. extraConfig ?? [],
            "",
        ];
        await File.WriteAllTextAsync(server._directory.File("sshd_config"), string.Join('\n', config)).ConfigureAwait(false);
        Directory.CreateDirectory("/run/sshd");
        await server.LaunchAsync().ConfigureAwait(false);
        return server;
    }

    /// <summary>Starts sshd again after <see cref="StopAsync"/>, same port and key.</summary>
    public Task LaunchAsync()
    {
        var startInfo = new ProcessStartInfo(Binary, ["-D", "-e", "-f", _directory.File("sshd_config")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = new Process { StartInfo = startInfo };
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        return Poll.UntilAsync(Accepts, TimeSpan.FromSeconds(10), () => $"sshd on {Address}:{Port} does not accept. Output:\n{Output}");
    }

    /// <summary>
    /// Stops sshd and every session it serves (the host stays: its kernel answers with resets).
    /// Killing only the listener would leave open sessions working, as <c>systemctl stop ssh</c> does.
    /// </summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            process.EnableRaisingEvents = true;
            process.Exited += (_, _) => exited.TrySetResult();
            // Sessions get SIGTERM first: a login shell killed outright skips its EXIT traps, and a
            // user's shell startup that holds a lock (pyenv's rehash, say) would leave it stale,
            // stalling every later SSH session on this machine.
            var sessions = Signals.Descendants(process.Id).ToList();
            foreach (var session in sessions)
            {
                Signals.Send(session, Signals.SigTerm);
            }

            await Poll.UntilAsync(() => sessions.All(Signals.IsGone), TimeSpan.FromSeconds(2), () => "sessions end")
                .ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            foreach (var session in Signals.Descendants(process.Id))
            {
                Signals.Send(session, Signals.SigKill);
            }

            Signals.Send(process.Id, Signals.SigKill);
            if (!process.HasExited)
            {
                await exited.Task.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _process?.Dispose();
        _directory.Dispose();
    }

    private bool Accepts()
    {
        if (_process is { HasExited: true })
        {
            throw new InvalidOperationException($"sshd exited with {_process.ExitCode}. Output:\n{Output}");
        }

        return LoopbackPorts.Accepts(IPAddress.Parse(Address), Port);
    }

    private void Keep(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
        }
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Address}:{Port}");
}
