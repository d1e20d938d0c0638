using System.Net.Sockets;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace RedisAgent.HostProbing;

/// <summary>
/// Reaches a host over SSH: connect, check the host key against its pin, authenticate with a
/// key, then either run <c>Ssh:CheckCommand</c> or, by default, nothing: sshd's own answer proves
/// the host (a bare channel opened and closed, <see cref="ChannelProbe"/>); each step under its own
/// timeout. With <see cref="ResolvedSsh.KeepSession"/>, one session stays open and each probe opens
/// a channel on it (far cheaper than a key exchange per probe: see docs/benchmarks.md); a session
/// that has died is replaced within the same probe, so a restarted sshd is not taken for a lost host.
/// </summary>
internal sealed class HostProbe : IDisposable
{
    private readonly ResolvedSsh _ssh;
    private readonly HostKeyTrust _trust;
    private readonly IPrivateKeySource _key;
    private readonly TimeProvider _time;
    private SshClient? _session;

    /// <summary>A session is kept between probes when asked for, and when a probe on it needs no fresh connection: a check command, or the bare channel.</summary>
    private bool KeepsSession => KeepsSessionWith(_ssh);

    private static bool KeepsSessionWith(ResolvedSsh ssh) => ssh.KeepSession && (!string.IsNullOrWhiteSpace(ssh.CheckCommand) || ChannelProbe.Available);

    public HostProbe(ResolvedSsh ssh, HostKeyTrust trust, IPrivateKeySource key, TimeProvider time)
    {
        _ssh = ssh;
        _trust = trust;
        _key = key;
        _time = time;
    }

    public ResolvedSsh Ssh => _ssh;

    /// <summary>How a host is probed with these settings, in words (for the agent's start-up line).</summary>
    public static string Describe(ResolvedSsh ssh) =>
        (string.IsNullOrWhiteSpace(ssh.CheckCommand) ? "no command: " : $"check command '{ssh.CheckCommand}': ")
        + (!KeepsSessionWith(ssh) ? "a fresh connection per probe" + (ssh.KeepSession ? ", since this build of SSH.NET offers no bare channel" : "")
           : string.IsNullOrWhiteSpace(ssh.CheckCommand) ? "a bare channel on a kept session" : "on a kept session");

    public async Task<HostProbeResult> ProbeAsync(CancellationToken cancellationToken)
    {
        var at = _time.GetUtcNow();
        var started = _time.GetTimestamp();
        var reused = _session is { IsConnected: true };
        var (outcome, detail) = await AttemptAsync(cancellationToken).ConfigureAwait(false);
        if (reused && outcome is not (HostProbeOutcome.Timeout or HostProbeOutcome.Answered or HostProbeOutcome.CheckFailed
                or HostProbeOutcome.AuthFailed or HostProbeOutcome.HostKeyRejected))
        {
            // The kept session broke (sshd restarted, connection reset): that says nothing about the
            // host, so one fresh try decides. A timeout is different: silence on a live session is
            // already the evidence, and a second wait would only delay the verdict.
            (outcome, detail) = await AttemptAsync(cancellationToken).ConfigureAwait(false);
        }

        return new HostProbeResult(outcome, at, _time.GetElapsedTime(started), detail);
    }

    /// <summary>Runs a command on the host over a fresh connection (for restarts): exit status and output.</summary>
    public async Task<(int? ExitStatus, string Output)> RunAsync(string command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        string? hostKeyProblem = null;
        using var client = await ConnectAsync(problem => hostKeyProblem = problem, cancellationToken).ConfigureAwait(false);
        using var sshCommand = client.CreateCommand(command);
        using var deadline = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        await sshCommand.ExecuteAsync(linked.Token).ConfigureAwait(false);
        return (sshCommand.ExitStatus, (sshCommand.Result + sshCommand.Error).Trim());
    }

    public void Dispose() => DropSession();

    private async Task<(HostProbeOutcome Outcome, string? Detail)> AttemptAsync(CancellationToken cancellationToken)
    {
        string? hostKeyProblem = null;
        var phase = "connect";
        try
        {
            var onKeptSession = _session is { IsConnected: true };
            var client = onKeptSession
                ? _session!
                : await ConnectAsync(problem => hostKeyProblem = problem, cancellationToken).ConfigureAwait(false);
            var keep = KeepsSession;
            if (keep)
            {
                _session = client;
            }

            if (string.IsNullOrWhiteSpace(_ssh.CheckCommand))
            {
                // No command: sshd's answer is the proof. A fresh connection proved it by authenticating;
                // a kept one proves it again with a channel sshd opens and closes without starting anything.
                phase = "channel";
                try
                {
                    if (onKeptSession)
                    {
                        // SSH.NET opens a channel synchronously: on a host cut off, the call blocks its
                        // thread until SSH.NET's own timeout, long after this probe gave up on it. On a
                        // thread of its own, never the pool's: three such probes (the node's host and two
                        // peers) held the pool of a 2-core machine for about a second at a cut, and
                        // delayed the self-fence by as much (measured with load/run isolated-writes).
                        await Task.Factory.StartNew(() => ChannelProbe.OpenAndClose(client), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)
                            .WaitAsync(_ssh.CommandTimeout, _time, cancellationToken).ConfigureAwait(false);
                    }

                    return (HostProbeOutcome.Answered, null);
                }
                catch (TimeoutException)
                {
                    DropSession();
                    return (HostProbeOutcome.Timeout, "no answer within the channel timeout");
                }
                finally
                {
                    if (!keep)
                    {
                        client.Dispose();
                    }
                }
            }

            phase = "check command";
            try
            {
                using var command = client.CreateCommand(_ssh.CheckCommand);
                using var deadline = new CancellationTokenSource(_ssh.CommandTimeout, _time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
                await command.ExecuteAsync(linked.Token).ConfigureAwait(false);
                return command.ExitStatus == 0
                    ? (HostProbeOutcome.Answered, null)
                    : (HostProbeOutcome.CheckFailed, $"'{_ssh.CheckCommand}' exited {command.ExitStatus?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "without a status"}");
            }
            finally
            {
                if (!keep)
                {
                    client.Dispose();
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            DropSession();
            return (HostProbeOutcome.Timeout, $"no answer within the {phase} timeout");
        }
        catch (SshOperationTimeoutException)
        {
            DropSession();
            return (HostProbeOutcome.Timeout, $"no answer within the {phase} timeout");
        }
        catch (SshAuthenticationException ex)
        {
            DropSession();
            return (HostProbeOutcome.AuthFailed, $"user {_ssh.User}: {ex.Message}");
        }
        catch (SshConnectionException) when (hostKeyProblem is not null)
        {
            DropSession();
            return (HostProbeOutcome.HostKeyRejected, hostKeyProblem);
        }
        catch (SocketException ex)
        {
            DropSession();
            return (Classify(ex.SocketErrorCode), ex.SocketErrorCode.ToString());
        }
        catch (Exception ex) when (ex is SshException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            DropSession();
            return ex.InnerException is SocketException socket
                ? (Classify(socket.SocketErrorCode), socket.SocketErrorCode.ToString())
                : (HostProbeOutcome.Failed, $"{phase}: {ex.Message}");
        }
    }

    internal static HostProbeOutcome Classify(SocketError error) => error switch
    {
        // A reset or a refusal comes from the host's own kernel: the host is there.
        SocketError.ConnectionRefused or SocketError.ConnectionReset => HostProbeOutcome.Refused,
        SocketError.TimedOut => HostProbeOutcome.Timeout,
        SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.HostDown => HostProbeOutcome.Unreachable,
        _ => HostProbeOutcome.Failed,
    };

    private async Task<SshClient> ConnectAsync(Action<string> onHostKeyProblem, CancellationToken cancellationToken)
    {
        var connection = new ConnectionInfo(_ssh.Host, _ssh.Port, _ssh.User, new PrivateKeyAuthenticationMethod(_ssh.User, _key))
        {
            Timeout = _ssh.ConnectTimeout,
        };
        var client = new SshClient(connection);
        client.HostKeyReceived += (_, e) =>
        {
            e.CanTrust = _trust.Verify(_ssh.Host, _ssh.Port, e.HostKeyName, e.HostKey, out var why);
            if (why is not null)
            {
                onHostKeyProblem(why);
            }
        };
        using var deadline = new CancellationTokenSource(_ssh.ConnectTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            await client.ConnectAsync(linked.Token).ConfigureAwait(false);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private void DropSession()
    {
        _session?.Dispose();
        _session = null;
    }
}
