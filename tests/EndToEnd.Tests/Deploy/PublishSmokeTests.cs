using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Deploy;

/// <summary>
/// The <c>dotnet publish</c> commands the Dockerfile runs, run here, and their output started with
/// the example configuration files of deploy/config, under the notify protocol a systemd unit of
/// Type=notify with WatchdogSec= speaks: READY=1, WATCHDOG=1, STOPPING=1.
/// </summary>
public sealed class PublishSmokeTests : IAsyncLifetime
{
    private readonly TempDirectory _directory = new("publish");

    /// <summary>Where the published programs are: CI's (scripts/test publishes them first), or published here by the same script.</summary>
    private string _published = "";

    public async Task InitializeAsync()
    {
        if (Binaries.PublishedDirectory is { } published)
        {
            _published = published;
            return;
        }

        // scripts/publish-aot runs the Dockerfile's own restore and publish commands (read from it).
        _published = _directory.File("published");
        using var process = Process.Start(new ProcessStartInfo(RepositoryFiles.Path("scripts/publish-aot"), [_published])
        {
            WorkingDirectory = RepositoryFiles.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(10));
        Assert.True(process.ExitCode == 0, $"scripts/publish-aot failed:\n{await output}\n{await error}");
    }

    [Fact]
    public void The_published_programs_are_native_binaries_with_no_dotnet_runtime_beside_them()
    {
        foreach (var program in new[] { "redis-agent", "redis-failover" })
        {
            var directory = Path.Combine(_published, program);
            var binary = Path.Combine(directory, program);
            Assert.True(File.Exists(binary), binary);
            // An ELF executable, not a framework-dependent apphost beside its .dll.
            Assert.Equal(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F' }, File.ReadAllBytes(binary)[..4]);
            Assert.False(File.Exists(Path.Combine(directory, program + ".dll")), $"{program}.dll beside the binary: not a NativeAOT publish");
            Assert.Empty(Directory.GetFiles(directory, "*.runtimeconfig.json"));
        }
    }

    public Task DisposeAsync()
    {
        _directory.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task The_published_agent_runs_on_the_example_configuration_and_speaks_the_notify_protocol()
    {
        const string password = "smoke-test-password-7f3a";
        await using var redis = await RedisServer.StartAsync(new RedisServerOptions { Password = password });
        using var notify = new NotifySocket(_directory.File("agent.notify"));
        var port = LoopbackPorts.Free();
        var environment = RepositoryFiles.Environment("deploy/config/redis-agent.env");
        environment["REDIS_URL"] = redis.Url;
        // The example runs Debian's redis-server from /etc/redis/redis.conf; here the test's server is already running.
        environment["Restart__Driver"] = "none";
        environment["Urls"] = $"http://127.0.0.1:{port}";
        environment["Agent__StateDirectory"] = _directory.File("agent-state");

        await using var agent = await StartNotifyingAsync("redis-agent", environment, notify);

        var (code, health) = await RunAsync(Path.Combine(_published, "redis-agent", "redis-agent"), "health", "--ready", "--url", $"http://127.0.0.1:{port}");
        Assert.True(code == 0, $"health --ready: exit {code}: {health}\n{agent.Output}");
        using var http = new HttpClient();
        string metrics = "";
        await Poll.UntilAsync(async () => (metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"))).Contains("\nredis_up 1", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), () => "redis_up 1 on /metrics\n" + agent.Output);
        Assert.Contains("redis_memory_max_bytes", metrics, StringComparison.Ordinal);

        agent.Signal(Signals.SigTerm);
        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        await notify.WaitForAsync("STOPPING=1", agent);
        Assert.DoesNotContain(password, agent.Output + metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_published_coordinator_runs_on_the_example_configuration_and_its_CLI_answers()
    {
        using var notify = new NotifySocket(_directory.File("failover.notify"));
        var port = LoopbackPorts.Free();
        var environment = RepositoryFiles.Environment("deploy/config/redis-failover.env");
        // The example's files, made here: a certificate, and a credentials file naming an admin by its token's hash.
        using var certificates = new TestCertificates();
        const string adminToken = "operator-token-0123456789";
        var credentials = _directory.File("credentials");
        await File.WriteAllTextAsync(credentials, $"admin alice sha256:{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(adminToken)))}\n");
        var password = _directory.File("cache.password");
        await File.WriteAllTextAsync(password, "cache-password\n");
        environment["Failover__CredentialsFile"] = credentials;
        environment["Failover__Tls__CertFile"] = certificates.ServerCertificateFile;
        environment["Failover__Tls__KeyFile"] = certificates.ServerKeyFile;
        environment["Resources__0__PasswordFile"] = password;
        environment["Urls"] = $"https://127.0.0.1:{port}";
        var metricsPort = LoopbackPorts.Free();
        environment["Failover__MetricsUrl"] = $"http://127.0.0.1:{metricsPort}";
        var sentinelPort = LoopbackPorts.Free();
        environment["Sentinel__Urls"] = $"127.0.0.1:{sentinelPort}";
        environment["Failover__StoreDirectory"] = _directory.File("failover-store");
        environment["Resources__0__UrlFile"] = _directory.File("cache.env");

        await using var coordinator = await StartNotifyingAsync("redis-failover", environment, notify);

        // The token from a file, never the command line (ps shows that to every user); the coordinator verified against the CA first.
        var tokenFile = _directory.File("token");
        await File.WriteAllTextAsync(tokenFile, adminToken + "\n");
        var cli = Path.Combine(_published, "redis-failover", "redis-failover");
        var (untrustedCode, untrusted) = await RunAsync(cli, "status", "-r", "cache", "--url", $"https://127.0.0.1:{port}", "--token-file", tokenFile);
        Assert.True(untrustedCode == 69, $"status without the CA: exit {untrustedCode}: {untrusted}");
        Assert.Contains("is not trusted, nothing was sent to it", untrusted, StringComparison.Ordinal);
        var (code, status) = await RunAsync(cli, "status", "-r", "cache", "--url", $"https://127.0.0.1:{port}", "--token-file", tokenFile, "--ca-file", certificates.CaFile);
        Assert.True(code == 0, $"status: exit {code}: {status}\n{coordinator.Output}");
        Assert.StartsWith("cache: ", status, StringComparison.Ordinal);
        Assert.Contains("db-3", status, StringComparison.Ordinal);
        // Applications' clients find the primary through the Sentinel endpoint the example configures.
        Assert.Equal("PONG", await Resp.CommandAsync("127.0.0.1", sentinelPort, "PING"));
        // No agent has said which node is the primary yet: the resource is known, its primary not (a nil array, never a guess).
        Assert.StartsWith("name\ncache\n", await Resp.CommandAsync("127.0.0.1", sentinelPort, "SENTINEL", "master", "cache"), StringComparison.Ordinal);
        using (var http = new HttpClient())
        {
            Assert.Contains("redis_failover_term{resource=\"cache\"}", await http.GetStringAsync($"http://127.0.0.1:{metricsPort}/metrics"), StringComparison.Ordinal);
        }

        coordinator.Signal(Signals.SigTerm);
        Assert.Equal(0, await coordinator.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        await notify.WaitForAsync("STOPPING=1", coordinator);
        Assert.DoesNotContain(adminToken, coordinator.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("cache-password", coordinator.Output, StringComparison.Ordinal);
    }

    /// <summary>Starts the published <paramref name="program"/> as a Type=notify unit with WatchdogSec=2 would, and waits for READY=1 and a first WATCHDOG=1.</summary>
    private async Task<AgentProcess> StartNotifyingAsync(string program, Dictionary<string, string> environment, NotifySocket notify)
    {
        environment["NOTIFY_SOCKET"] = notify.Path;
        environment["WATCHDOG_USEC"] = "2000000";
        var process = AgentProcess.StartBinary(Path.Combine(_published, program, program), environment);
        try
        {
            await notify.WaitForAsync("READY=1", process);
            await notify.WaitForAsync("WATCHDOG=1", process);
            return process;
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    private static async Task<(int Code, string Output)> RunAsync(string binary, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(binary, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return (process.ExitCode, await output + await error);
    }

    /// <summary>The datagram socket systemd gives a Type=notify service in NOTIFY_SOCKET; collects what the service says.</summary>
    private sealed class NotifySocket : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        private readonly ConcurrentQueue<string> _messages = new();
        private readonly CancellationTokenSource _stop = new();

        public NotifySocket(string path)
        {
            Path = path;
            _socket.Bind(new UnixDomainSocketEndPoint(path));
            _ = Task.Run(ReceiveAsync);
        }

        public string Path { get; }

        public Task WaitForAsync(string message, AgentProcess process) =>
            Poll.UntilAsync(() => _messages.Any(m => m.Split('\n').Contains(message)), TimeSpan.FromSeconds(30),
                () => $"no {message} on NOTIFY_SOCKET; got: {string.Join(" | ", _messages)}\n{process.Output}");

        public void Dispose()
        {
            _stop.Cancel();
            _socket.Dispose();
            _stop.Dispose();
        }

        private async Task ReceiveAsync()
        {
            var buffer = new byte[4096];
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    var received = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                    _messages.Enqueue(Encoding.UTF8.GetString(buffer, 0, received));
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
            }
        }
    }
}
