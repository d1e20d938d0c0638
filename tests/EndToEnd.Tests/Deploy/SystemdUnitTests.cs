using System.Globalization;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Deploy;

/// <summary>
/// deploy/systemd's units under a real systemd: a Debian container with systemd as PID 1 and Debian's
/// redis-server (scripts/systemd-image), a unit and the shipped NativeAOT program mounted into it and
/// installed as the unit's head says. Each container has no network but its own loopback,
/// so Debian's 6379 and the agent's 9379 are its own; each test removes its container.
/// </summary>
[Collection(nameof(ContainerImageTests))]
public sealed class SystemdUnitTests(SystemdUnitTests.Image image) : IClassFixture<SystemdUnitTests.Image>, IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _directory = new("systemd");
    private readonly List<string> _containers = [];

    [Fact]
    public async Task The_unit_starts_the_agent_sandboxed_restarts_a_killed_redis_and_lets_it_save_on_stop()
    {
        var name = await BootAsync();
        // Type=notify: `enable --now` returns once the agent said READY=1 (a unit that never does times out and fails).
        await InstallAsync(name);
        Assert.Equal("active running", await ExecOkAsync(name, "systemctl show -P ActiveState redis-agent; systemctl show -P SubState redis-agent", joined: true));
        var agent = await MainPidAsync(name);
        var first = await RedisPidAsync(name);
        Assert.True(first > 0, await JournalAsync(name));
        // Both run as the unit's user, Redis as the agent's child.
        Assert.Equal($"redis redis {agent}", await ExecOkAsync(name, $"echo $(ps -o user= -p {agent}) $(ps -o user=,ppid= -p {first})"));
        await Poll.UntilAsync(async () => (await ExecAsync(name, "curl -sf http://127.0.0.1:9379/readyz")).Code == 0, Deadline, () => JournalAsync(name).Result);

        await ExecOkAsync(name, $"kill -9 {first}");
        await Poll.UntilAsync(async () => await RedisPidAsync(name) is var pid && pid > 0 && pid != first, Deadline, () => JournalAsync(name).Result);
        Assert.Equal(agent, await MainPidAsync(name));
        Assert.Equal("0", await ExecOkAsync(name, "systemctl show -P NRestarts redis-agent"));

        await ExecOkAsync(name, "redis-cli SET written before-stop");
        await ExecOkAsync(name, "systemctl stop redis-agent");
        Assert.Equal(1, (await ExecAsync(name, "pidof redis-server")).Code);
        Assert.Contains("DB saved on disk", await ExecOkAsync(name, "cat /var/log/redis/redis-server.log"), StringComparison.Ordinal);
        await ExecOkAsync(name, "systemctl start redis-agent");
        await Poll.UntilAsync(async () => (await ExecAsync(name, "redis-cli GET written")).Output.Trim() == "before-stop", Deadline, () => JournalAsync(name).Result);
    }

    [Fact]
    public async Task An_agent_killed_with_SIGKILL_leaves_redis_serving_and_the_next_agent_stops_it_with_a_save()
    {
        var name = await BootAsync();
        await InstallAsync(name);
        var agent = await MainPidAsync(name);
        var first = await RedisPidAsync(name);
        // Not saved by any save point in the seconds this test takes (Debian's: an hour for one change).
        await ExecOkAsync(name, "redis-cli SET written before-the-crash");

        await ExecOkAsync(name, $"kill -9 {agent}");

        // systemd restarts the agent (Restart=on-failure, 2 s later); Redis was left alone meanwhile.
        await Poll.UntilAsync(async () => await ExecAsync(name, "systemctl show -P NRestarts redis-agent; systemctl show -P ActiveState redis-agent") is { Output: var o } && o.Split('\n', StringSplitOptions.RemoveEmptyEntries) is ["1", "active"],
            Deadline, () => JournalAsync(name).Result);
        await Poll.UntilAsync(async () => await RedisPidAsync(name) is var pid && pid > 0 && pid != first, Deadline, () => JournalAsync(name).Result);
        var journal = await JournalAsync(name);
        // The new agent found the old server by its pid file and stopped it with SIGTERM, which saved.
        Assert.Contains($"The earlier redis-server pid {first} stopped", journal, StringComparison.Ordinal);
        Assert.DoesNotContain($"Killing process {first} (redis-server) with signal SIGKILL", journal, StringComparison.Ordinal);
        Assert.Equal("before-the-crash", (await ExecOkAsync(name, "redis-cli GET written")).Trim());
    }

    [Fact]
    public async Task A_hung_agent_is_killed_by_the_watchdog_and_restarted_while_redis_keeps_its_data()
    {
        var name = await BootAsync();
        // The shipped 30 s, shortened for the test: a drop-in, as an operator would.
        await ExecOkAsync(name, "mkdir -p /etc/systemd/system/redis-agent.service.d && printf '[Service]\\nWatchdogSec=3\\n' > /etc/systemd/system/redis-agent.service.d/watchdog.conf");
        await InstallAsync(name);
        var agent = await MainPidAsync(name);
        await ExecOkAsync(name, "redis-cli SET written before-the-hang");

        // Stopped, the agent pings no more: systemd's watchdog fires and sends SIGABRT (with a SIGCONT,
        // so that a stopped process takes it; sent here too, in case it is gone by then).
        await ExecOkAsync(name, $"kill -STOP {agent}");
        await Poll.UntilAsync(async () => (await JournalAsync(name)).Contains("Watchdog timeout", StringComparison.Ordinal), Deadline, () => JournalAsync(name).Result);
        await ExecAsync(name, $"kill -CONT {agent}");

        await Poll.UntilAsync(async () => await MainPidAsync(name) is var pid && pid > 0 && pid != agent && await ExecAsync(name, "systemctl is-active redis-agent") is { Code: 0 },
            Deadline, () => JournalAsync(name).Result);
        Assert.Equal("1", await ExecOkAsync(name, "systemctl show -P NRestarts redis-agent"));
        await Poll.UntilAsync(async () => (await ExecAsync(name, "redis-cli GET written")).Output.Trim() == "before-the-hang", Deadline, () => JournalAsync(name).Result);
    }

    [Fact]
    public async Task The_systemd_driver_restarts_debians_unit_fenced_from_its_first_command_when_no_coordinator_answers()
    {
        // The agent as the unit's head says for this driver (root: drop User= and Group=), Debian's
        // redis-server.service kept, with the shipped drop-in; a coordinator that never answers.
        var name = await BootAsync(extraSettings: "Restart__Driver=systemd\nRestart__SystemdUnit=redis-server\n" +
            "Coordinator__Url=http://127.0.0.1:9\nCoordinator__Token=systemd-test-token-0123456789\nCoordinator__Resource=cache\n");
        await ExecOkAsync(name, "mkdir -p /etc/systemd/system/redis-agent.service.d /etc/systemd/system/redis-server.service.d" +
            " && printf '[Service]\\nUser=\\nGroup=\\n' > /etc/systemd/system/redis-agent.service.d/root.conf" +
            " && cp /opt/redis-server.service.d/redis-agent.conf /etc/systemd/system/redis-server.service.d/ && systemctl daemon-reload && systemctl restart redis-server");
        await ExecOkAsync(name, "systemctl enable --now redis-agent");
        Assert.Equal("root", await ExecOkAsync(name, "ps -o user= -p $(systemctl show -P MainPID redis-agent)"));
        var first = int.Parse(await ExecOkAsync(name, "systemctl show -P MainPID redis-server"), CultureInfo.InvariantCulture);
        await Poll.UntilAsync(async () => (await JournalAsync(name)).Contains("is Healthy", StringComparison.Ordinal), Deadline, () => JournalAsync(name).Result);
        await ExecOkAsync(name, $"kill -9 {first}");

        await Poll.UntilAsync(async () => await ExecAsync(name, "systemctl show -P MainPID redis-server") is { Output: var o } && int.TryParse(o.Trim(), CultureInfo.InvariantCulture, out var pid) && pid > 0 && pid != first
            && (await ExecAsync(name, "redis-cli PING")).Output.Trim() == "PONG", Deadline, () => JournalAsync(name).Result);
        // Started by the agent with systemctl (Debian's Restart=always is off), with the start fence as its arguments.
        Assert.Contains("Restarted redis with the systemd driver", await JournalAsync(name), StringComparison.Ordinal);
        Assert.Equal("min-replicas-to-write 2147483647", await ExecOkAsync(name, "redis-cli CONFIG GET min-replicas-to-write", joined: true));
        Assert.StartsWith("NOREPLICAS", await ExecOkAsync(name, "redis-cli SET written after-the-kill"), StringComparison.Ordinal);
        Assert.Equal("0", await ExecOkAsync(name, "redis-cli DBSIZE"));
    }

    [Fact]
    public async Task A_configuration_error_exits_78_names_the_key_in_the_journal_and_is_not_retried()
    {
        var name = await BootAsync(extraSettings: "Restart__Driver=magic\n");

        var (code, _) = await ExecAsync(name, "systemctl disable --now redis-server && systemctl start redis-agent");

        Assert.NotEqual(0, code);
        // RestartPreventExitStatus=78: failed for good, not waiting to be started again (SubState auto-restart).
        Assert.Equal("failed failed 78 0", await ExecOkAsync(name,
            "for p in ActiveState SubState ExecMainStatus NRestarts; do systemctl show -P $p redis-agent; done", joined: true));
        Assert.Contains("Restart:Driver", await JournalAsync(name), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_coordinators_unit_runs_it_sandboxed_as_its_own_user_and_a_configuration_error_is_not_retried()
    {
        // deploy/config/redis-failover.env as shipped, with the files it names: a certificate for its
        // API, the example credentials (no secret in them) and the resource's password.
        using var certificates = new TestCertificates();
        var files = Directory.CreateDirectory(Path.Combine(_directory.Path, "failover")).FullName;
        File.Copy(RepositoryFiles.Path("deploy/config/redis-failover.env"), Path.Combine(files, "redis-failover.env"));
        File.Copy(RepositoryFiles.Path("deploy/config/credentials.example"), Path.Combine(files, "credentials"));
        File.Copy(certificates.ServerCertificateFile, Path.Combine(files, "coordinator.crt"));
        File.Copy(certificates.ServerKeyFile, Path.Combine(files, "coordinator.key"));
        File.Copy(certificates.CaFile, Path.Combine(files, "ca.pem"));
        await File.WriteAllTextAsync(Path.Combine(files, "cache.password"), "systemd-test-password");
        var name = await BootAsync(mounts: ["-v", $"{image.FailoverDirectory}:/opt/redis-failover:ro",
            "-v", $"{RepositoryFiles.Path("deploy/systemd/redis-failover.service")}:/etc/systemd/system/redis-failover.service:ro",
            "-v", $"{files}:/opt/failover-files:ro"]);

        // The unit's head, step by step (its files owned by the user it creates, mode 0600).
        await ExecOkAsync(name, "useradd --system --home /var/lib/redis-failover --shell /usr/sbin/nologin redis-failover" +
            " && cd /opt/failover-files && install -D -m 0600 -o redis-failover redis-failover.env /etc/redis-failover/redis-failover.env" +
            " && install -D -m 0644 credentials /etc/redis-failover/credentials" +
            " && install -D -m 0600 -o redis-failover coordinator.crt /etc/redis-failover/tls/coordinator.crt" +
            " && install -D -m 0600 -o redis-failover coordinator.key /etc/redis-failover/tls/coordinator.key" +
            " && install -D -m 0600 -o redis-failover cache.password /etc/redis-failover/cache.password");
        var (code, output) = await ExecAsync(name, "systemctl enable --now redis-failover");
        Assert.True(code == 0, $"enable --now: exit {code}: {output}\n{await JournalAsync(name, "redis-failover")}");

        Assert.Equal("active running", await ExecOkAsync(name, "systemctl show -P ActiveState redis-failover; systemctl show -P SubState redis-failover", joined: true));
        Assert.Equal("redis-failover", await ExecOkAsync(name, "stat -c %U /proc/$(systemctl show -P MainPID redis-failover)"));
        // Its metrics on loopback, its API over TLS with the certificate it was given.
        Assert.Contains("process_", await ExecOkAsync(name, "curl -sf http://127.0.0.1:9381/metrics"), StringComparison.Ordinal);
        Assert.NotEqual("000", await ExecOkAsync(name, "curl -s -o /dev/null -w '%{http_code}' --cacert /opt/failover-files/ca.pem https://127.0.0.1:9380/"));
        await ExecOkAsync(name, "systemctl stop redis-failover");

        // A bad value: exit 78, the key named in the journal, not started again.
        await ExecOkAsync(name, "sed -i 's/^Failover__Window=.*/Failover__Window=banana/' /etc/redis-failover/redis-failover.env");
        Assert.NotEqual(0, (await ExecAsync(name, "systemctl start redis-failover")).Code);
        Assert.Equal("failed failed 78", await ExecOkAsync(name,
            "for p in ActiveState SubState ExecMainStatus; do systemctl show -P $p redis-failover; done", joined: true));
        Assert.Contains("Failover:Window", await JournalAsync(name, "redis-failover"), StringComparison.Ordinal);
    }

    /// <summary>Starts a container with systemd as PID 1, the agent, its unit and its configuration mounted; returns once systemd is up.</summary>
    private async Task<string> BootAsync(string extraSettings = "", string[]? mounts = null)
    {
        // deploy/config/redis-agent.env as shipped, but for Debian's Redis, which has no password.
        var settings = (await File.ReadAllTextAsync(RepositoryFiles.Path("deploy/config/redis-agent.env")))
            .Replace("REDIS_URL=redis://:change-me@127.0.0.1:6379", "REDIS_URL=redis://127.0.0.1:6379", StringComparison.Ordinal);
        Assert.Contains("REDIS_URL=redis://127.0.0.1:6379", settings, StringComparison.Ordinal);
        var configuration = Directory.CreateDirectory(Path.Combine(_directory.Path, "etc-" + _containers.Count.ToString(CultureInfo.InvariantCulture))).FullName;
        var file = Path.Combine(configuration, "redis-agent.env");
        await File.WriteAllTextAsync(file, settings + extraSettings);
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var name = "redis-agent-systemd-" + Guid.NewGuid().ToString("N")[..12];
        _containers.Add(name);
        string[] arguments = ["run", "-d", "--name", name, "--network", "none", "--systemd=always",
            "-v", $"{image.AgentDirectory}:/opt/redis-agent:ro",
            "-v", $"{RepositoryFiles.Path("deploy/systemd/redis-agent.service")}:/etc/systemd/system/redis-agent.service:ro",
            "-v", $"{configuration}:/etc/redis-agent:ro",
            "-v", $"{RepositoryFiles.Path("deploy/systemd/redis-server.service.d")}:/opt/redis-server.service.d:ro",
            .. mounts ?? [],
            Image.Name];
        var (code, output) = await Podman.RunAsync(TimeSpan.FromSeconds(60), arguments);
        Assert.True(code == 0, $"podman run: exit {code}: {output}");
        await Poll.UntilAsync(async () => (await ExecAsync(name, "systemctl is-system-running")).Output.Trim() is "running" or "degraded",
            Deadline, () => ExecAsync(name, "systemctl --failed --no-pager").Result.Output);
        return name;
    }

    /// <summary>The unit's own install steps: Debian's redis-server.service off, the agent's unit on.</summary>
    private static async Task InstallAsync(string name)
    {
        var (code, output) = await ExecAsync(name, "systemctl disable --now redis-server && systemctl enable --now redis-agent");
        Assert.True(code == 0, $"install: exit {code}: {output}\n{await JournalAsync(name)}");
    }

    private static Task<(int Code, string Output)> ExecAsync(string container, string script) =>
        Podman.RunAsync(TimeSpan.FromSeconds(60), "exec", container, "/bin/bash", "-c", script);

    /// <summary>Runs <paramref name="script"/>, which must succeed; its output, trimmed (its lines joined by spaces when <paramref name="joined"/>).</summary>
    private static async Task<string> ExecOkAsync(string container, string script, bool joined = false)
    {
        var (code, output) = await ExecAsync(container, script);
        Assert.True(code == 0, $"{script}: exit {code}: {output}");
        return joined ? string.Join(' ', output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)) : output.Trim();
    }

    private static async Task<string> JournalAsync(string container, string unit = "redis-agent") =>
        (await ExecAsync(container, $"journalctl --no-pager -u {unit}")).Output;

    private static async Task<int> MainPidAsync(string container) =>
        int.Parse(await ExecOkAsync(container, "systemctl show -P MainPID redis-agent"), CultureInfo.InvariantCulture);

    /// <summary>The process id of the redis-server answering on 6379, or 0.</summary>
    private static async Task<int> RedisPidAsync(string container)
    {
        var (code, output) = await ExecAsync(container, "redis-cli info server | sed -n 's/^process_id:\\([0-9]*\\).*/\\1/p'");
        return code == 0 && int.TryParse(output.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : 0;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var container in _containers)
        {
            await Podman.RunAsync(TimeSpan.FromSeconds(60), "rm", "-f", "-t", "0", container);
        }

        _directory.Dispose();
    }

    /// <summary>The image (made once, kept) and the shipped agent: the tests' published binaries, else the agent image's own.</summary>
    public sealed class Image : IAsyncLifetime
    {
        public const string Name = "localhost/redis-agent-base/systemd:bookworm";

        private TempDirectory? _extracted;

        public string AgentDirectory { get; private set; } = "";

        public string FailoverDirectory { get; private set; } = "";

        public async Task InitializeAsync()
        {
            var (code, output) = await Commands.RunAsync(RepositoryFiles.Path("scripts/systemd-image"), TimeSpan.FromMinutes(15));
            Assert.True(code == 0, $"scripts/systemd-image failed (exit {code}):\n{output}");
            if (Binaries.PublishedDirectory is { } published)
            {
                AgentDirectory = Path.Combine(published, "redis-agent");
                FailoverDirectory = Path.Combine(published, "redis-failover");
                return;
            }

            // The JIT build beside the tests needs a .NET runtime the image has not: take the images' own binary.
            _extracted = new TempDirectory("systemd-agent");
            (code, output) = await Commands.RunAsync(RepositoryFiles.Path("scripts/container-images"), TimeSpan.FromMinutes(20), "--extract", _extracted.Path);
            Assert.True(code == 0, $"scripts/container-images --extract failed (exit {code}):\n{output}");
            AgentDirectory = Path.Combine(_extracted.Path, "redis-agent");
            FailoverDirectory = Path.Combine(_extracted.Path, "redis-failover");
        }

        public Task DisposeAsync()
        {
            _extracted?.Dispose();
            return Task.CompletedTask;
        }
    }
}
