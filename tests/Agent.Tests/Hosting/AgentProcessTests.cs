using RedisAgent.Hosting;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Hosting;

/// <summary>The real binary, as an operator runs it.</summary>
public sealed class AgentProcessTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("REDIS_URL", "http://:Sekr1t-pass@127.0.0.1:6379", "REDIS_URL has scheme 'http'")]
    [InlineData("REDIS_URL", "redis://:Sekr1t-pass@127.0.0.1:6379/cache", "REDIS_URL has a path that is not a database number")]
    [InlineData("REDIS_URL", "redis://:Sekr1t-pass@127.0.0.1:0", "REDIS_URL has port 0; a port is 1 to 65535")]
    [InlineData("REDIS_URL", "redis://bob%0Auser%20default%20on:Sekr1t-pass@127.0.0.1:6390", "REDIS_URL has a control character")]
    [InlineData("Probe__Interval", "60.00:00:00", "Probe:Interval must be greater than zero and at most 7 days")]
    [InlineData("Urls", "garbage", "Urls: 'garbage' is not an address to listen on")]
    [InlineData("Logs__MaxTails", "-1", "Logs:MaxTails must be between 0 and 100000")]
    [InlineData("Plans__big__Connections", "lots", "Plans:big:Connections")]
    [InlineData("Peers__0__Ssh__Interval", "soon", "Peers:0:Ssh:Interval")]
    [InlineData("Probe__Interval", "soon", "Probe:Interval")]
    [InlineData("Probe__Timeout", "-00:00:01", "Probe:Timeout must be greater than zero")]
    [InlineData("Verdict__FailuresToDown", "0", "Verdict:FailuresToDown must be between 1 and 100")]
    [InlineData("Restart__Driver", "magic", "at 'Restart:Driver' to type 'RedisAgent.Supervision.RestartDriverKind'. Valid values: exec, command, systemd, ssh, none.")]
    [InlineData("Restart__Driver", "7", "Restart:Driver '7' is not a driver")]
    [InlineData("Restart__Driver", "command", "Restart:Command is required when Restart:Driver is command")]
    [InlineData("Restart__SystemdUnit", "redis; rm -rf /", "Restart:SystemdUnit")]
    [InlineData("Redis__TlsCertificateSha256", "abc", "Redis:TlsCertificateSha256 must be 64 hex digits")]
    [InlineData("Redis__TlsCaFile", "/nonexistent/ca.pem", "Redis:TlsCaFile '/nonexistent/ca.pem' cannot be used")]
    [InlineData("Logs__Syslog__StructuredData", "not sd", "Logs:Syslog:StructuredData must be RFC 5424 SD-ELEMENTs")]
    [InlineData("Http__MaxConnections", "0", "Http:MaxConnections must be 1 to 1000000 (got 0)")]
    [InlineData("Http__MaxConnectionsPerClient", "0", "Http:MaxConnectionsPerClient must be 1 to 1000000 (got 0)")]
    [InlineData("Http__IdleTimeout", "00:00:00", "Http:IdleTimeout must be 1 s to 1 h")]
    [InlineData("Logs__Syslog__Url", "http://127.0.0.1:514", "Logs:Syslog:Url 'http://127.0.0.1:514' must be tcp://host:port, tls://host:port or udp://host:port")]
    [InlineData("Logs__RedisTimeZone", "Mars/Olympus", "Logs:RedisTimeZone 'Mars/Olympus' is not a known time zone")]
    [InlineData("Logs__Resource", "my cache ü", "Logs:Resource must be a resource name as Heroku writes them")]
    [InlineData("Logs__Syslog__StructuredData", "[tok@1 v=\"a]b\"]", "Logs:Syslog:StructuredData must be RFC 5424 SD-ELEMENTs")]
    [InlineData("Exec__Path", "/nonexistent/redis-server", "Exec:Path '/nonexistent/redis-server' was not found")]
    [InlineData("Probe__Intervall", "00:00:05", "this key is not a setting: Probe:Intervall (given by the environment, Probe__Intervall)")]
    [InlineData("Coordinator__Adress", "http://127.0.0.1:9380", "this key is not a setting: Coordinator:Adress (given by the environment, Coordinator__Adress)")]
    [InlineData("Peers__0__Ssh__Adress", "127.0.0.2", "Peers:0:Ssh:Adress (given by the environment, Peers__0__Ssh__Adress)")]
    [InlineData("DOTNET_Probe__Intervall", "00:00:05", "this key is not a setting: Probe:Intervall (given by the environment, DOTNET_Probe__Intervall)")]
    [InlineData("AGENT__STATEDIRECTORY", "/nonexistent/elsewhere", "two names with different values: 'AGENT__STATEDIRECTORY' and 'Agent__StateDirectory'")]
    public async Task BadConfiguration_StopsAtStartNamingTheKey(string key, string value, string expected)
    {
        using var state = new TempDirectory("config");
        var environment = new Dictionary<string, string>
        {
            [key] = value,
            ["Agent__StateDirectory"] = state.Path,
            ["Exec__InstallIfMissing"] = "false",
        };
        if (key == "Restart__SystemdUnit")
        {
            environment["Restart__Driver"] = "systemd";
        }

        if (key is not "REDIS_URL")
        {
            // A free port, so the exec driver's checks are the only thing in the way.
            environment["REDIS_URL"] = $"redis://127.0.0.1:{LoopbackPorts.Free()}";
        }

        await using var agent = AgentProcess.Start(environment);

        Assert.Equal(AgentHost.ConfigurationErrorExitCode, await agent.WaitForExitAsync(Deadline));
        Assert.Contains("redis-agent: configuration error:", agent.Output, StringComparison.Ordinal);
        Assert.Contains(expected, agent.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Sekr1t-pass", agent.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--help", 0, "usage:")]
    [InlineData("--version", 0, "redis-agent ")]
    [InlineData("frobnicate", 64, "unknown verb 'frobnicate'")]
    [InlineData("--frobnicate", 64, "unknown option '--frobnicate'")]
    [InlineData("--Probe:Intervl=00:00:02", 64, "unknown option '--Probe:Intervl'")]
    [InlineData("--Peers:first:Name=x", 64, "unknown option '--Peers:first:Name'")]
    [InlineData("--Restart:Driver", 64, "option '--Restart:Driver' needs a value")]
    // Keys deep in the options (lists, maps, nested sections) are known to the key check, the
    // NativeAOT build's included: the value is what is refused, with 78.
    [InlineData("--Peers:0:Ssh:Interval=soon", 78, "Peers:0:Ssh:Interval")]
    [InlineData("--Logs:Syslog:Url=http://127.0.0.1:514", 78, "Logs:Syslog:Url 'http://127.0.0.1:514' must be")]
    [InlineData("--Plans:big:Connections=lots", 78, "Plans:big:Connections")]
    [InlineData("--Coordinator:ReportInterval=soon", 78, "Coordinator:ReportInterval")]
    // A fence shorter than two reports (1 s by default) would take one late acknowledgement for isolation.
    [InlineData("--Coordinator:SelfFenceAfter=00:00:01", 78, "Coordinator:SelfFenceAfter (00:00:01) must be at least two Coordinator:ReportInterval")]
    // Issue 13: /logs and /metrics beyond loopback need a token (checked before anything binds); a coordinator beyond loopback needs https://.
    [InlineData("--Urls=http://0.0.0.0:1", 78, "Set Http:TokenFile")]
    [InlineData("--Coordinator:Url=http://coordinator.invalid:9380", 78, "is plain http:// off loopback")]
    [InlineData("--Coordinator:MaxTermJump=0", 78, "Coordinator:MaxTermJump must be at least 1")]
    public async Task CommandLine_IsCheckedBeforeAnythingStarts(string argument, int expectedCode, string expected)
    {
        using var state = new TempDirectory("cli");
        // A free port that nothing may take: the agent must start no Redis for --help.
        var port = LoopbackPorts.Free();
        await using var agent = AgentProcess.Start(
            new Dictionary<string, string> { ["REDIS_URL"] = $"redis://127.0.0.1:{port}", ["Agent__StateDirectory"] = state.Path },
            argument);

        Assert.Equal(expectedCode, await agent.WaitForExitAsync(Deadline));
        Assert.Contains(expected, agent.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Started", agent.Output, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(state.Path));
    }

    [Fact]
    public async Task HTTP_address_in_use_stops_at_start_naming_URLs()
    {
        using var occupied = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        occupied.Start();
        var port = ((System.Net.IPEndPoint)occupied.LocalEndpoint).Port;
        using var state = new TempDirectory("urls");

        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["Urls"] = $"http://127.0.0.1:{port}",
            ["REDIS_URL"] = $"redis://127.0.0.1:{LoopbackPorts.Free()}",
            ["Restart__Driver"] = "none",
            ["Agent__StateDirectory"] = state.Path,
        });

        Assert.Equal(AgentHost.ConfigurationErrorExitCode, await agent.WaitForExitAsync(Deadline));
        Assert.Contains("redis-agent: configuration error: Urls: Failed to bind to address", agent.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exec_driver_for_a_remote_host_is_refused_at_start()
    {
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["REDIS_URL"] = "redis://cache.invalid:6379",
            ["Restart__Driver"] = "exec",
        });

        Assert.Equal(AgentHost.ConfigurationErrorExitCode, await agent.WaitForExitAsync(Deadline));
        Assert.Contains("Restart:Driver is exec", agent.Output, StringComparison.Ordinal);
        Assert.Contains("REDIS_URL names host 'cache.invalid'", agent.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// A missing redis-server is installed with apt-get when the agent is root. The machine's real
    /// package manager cannot be used for this (it would change the machine), so a stand-in
    /// apt-get comes first on the agent's PATH and "installs" by linking the real binary under
    /// a name that exists nowhere else.
    /// </summary>
    [Fact]
    public async Task Missing_Redis_server_is_installed_with_apt_get_when_root()
    {
        using var scratch = new TempDirectory("apt");
        var bin = Directory.CreateDirectory(scratch.File("bin")).FullName;
        var calls = scratch.File("apt-calls");
        var aptGet = Path.Combine(bin, "apt-get");
        await File.WriteAllTextAsync(aptGet,
            $"#!/bin/sh\necho \"$@\" >> {calls}\nln -sf /usr/bin/redis-server {bin}/redis-server-under-test\n");
        File.SetUnixFileMode(aptGet, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var port = LoopbackPorts.Free();

        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["PATH"] = bin + ":" + Environment.GetEnvironmentVariable("PATH"),
            ["REDIS_URL"] = $"redis://127.0.0.1:{port}",
            ["Exec__Path"] = "redis-server-under-test",
            ["Exec__InstallIfMissing"] = "true",
            ["Agent__StateDirectory"] = scratch.File("state"),
        });

        if (!Environment.IsPrivilegedProcess)
        {
            Assert.Equal(AgentHost.ConfigurationErrorExitCode, await agent.WaitForExitAsync(Deadline));
            Assert.Contains("apt-get install redis-server", agent.Output, StringComparison.Ordinal);
            return;
        }

        await agent.WaitForOutputAsync("is Healthy (was Unknown)", Deadline);
        Assert.Contains("installing the Debian package redis-server with apt-get", agent.Output, StringComparison.Ordinal);
        Assert.Equal("install -y --no-install-recommends redis-server", (await File.ReadAllTextAsync(calls)).Trim());
        Assert.True(await Resp.PingsAsync("127.0.0.1", port));
    }

    /// <summary>
    /// The README's first command: no configuration at all. It needs 127.0.0.1:6379 free, as a
    /// newcomer's machine has it.
    /// </summary>
    [Fact]
    public async Task Embedded_default_runs_its_own_Redis_on_6379_restarts_it_and_stops_it_on_SIGTERM()
    {
        using var state = new TempDirectory("embedded");
        Assert.False(await Resp.PingsAsync("127.0.0.1", 6379), "something already serves 127.0.0.1:6379; the embedded default needs it free");
        int pid;
        await using (var agent = AgentProcess.Start(new Dictionary<string, string> { ["Agent__StateDirectory"] = state.Path }))
        {
            try
            {
                await agent.WaitForOutputAsync("is Healthy (was Unknown)", Deadline);
                pid = await Resp.ProcessIdAsync("127.0.0.1", 6379);
                Assert.Contains("Ready to accept connections", agent.Output, StringComparison.Ordinal);

                Signals.Send(pid, Signals.SigKill);
                await agent.WaitForOutputAsync("Redis is back", Deadline);
                var restarted = await Resp.ProcessIdAsync("127.0.0.1", 6379);
                Assert.NotEqual(pid, restarted);
                pid = restarted;

                agent.Signal(Signals.SigTerm);
                Assert.Equal(0, await agent.WaitForExitAsync(Deadline));
            }
            catch
            {
                // Never leave a server behind on the well-known port.
                if (await Resp.PingsAsync("127.0.0.1", 6379))
                {
                    Signals.Send(await Resp.ProcessIdAsync("127.0.0.1", 6379), Signals.SigKill);
                }

                throw;
            }

            Assert.Contains("Saving the final RDB snapshot", agent.Output, StringComparison.Ordinal);
        }

        Assert.False(Signals.IsAlive(pid), "redis-server outlived the agent");
        Assert.False(await Resp.PingsAsync("127.0.0.1", 6379));
        Assert.True(File.Exists(Path.Combine(state.Path, "redis-6379", "data", "dump.rdb")), "no snapshot in the state directory");
        Assert.Equal("-rw-------", ModeString(Path.Combine(state.Path, "redis-6379", "redis.conf")));
        // The snapshot itself is Redis's (its umask), but nobody else can reach it.
        Assert.Equal("-rwx------", ModeString(Path.Combine(state.Path, "redis-6379")));
        Assert.Equal("-rwx------", ModeString(Path.Combine(state.Path, "redis-6379", "data")));
    }

    private static string ModeString(string path)
    {
        var mode = File.GetUnixFileMode(path);
        return "-" + string.Concat(
            Bit(mode, UnixFileMode.UserRead, 'r'), Bit(mode, UnixFileMode.UserWrite, 'w'), Bit(mode, UnixFileMode.UserExecute, 'x'),
            Bit(mode, UnixFileMode.GroupRead, 'r'), Bit(mode, UnixFileMode.GroupWrite, 'w'), Bit(mode, UnixFileMode.GroupExecute, 'x'),
            Bit(mode, UnixFileMode.OtherRead, 'r'), Bit(mode, UnixFileMode.OtherWrite, 'w'), Bit(mode, UnixFileMode.OtherExecute, 'x'));

        static char Bit(UnixFileMode mode, UnixFileMode flag, char c) => mode.HasFlag(flag) ? c : '-';
    }
}
