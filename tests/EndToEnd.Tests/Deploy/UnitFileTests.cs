using System.Diagnostics;

namespace RedisAgent.Tests.Deploy;

/// <summary>
/// deploy/systemd: the units are checked for the keys that matter, and by <c>systemd-analyze
/// verify</c>, which parses them as systemd would and names any key or value it does not accept;
/// <see cref="SystemdUnitTests"/> runs the agent's under a real systemd.
/// </summary>
public sealed class UnitFileTests
{
    public static TheoryData<string> Units => new() { "redis-agent", "redis-failover" };

    [Theory]
    [MemberData(nameof(Units))]
    public void A_unit_is_a_notify_service_with_a_watchdog_that_restarts_on_failure_but_not_on_bad_configuration(string name)
    {
        var unit = RepositoryFiles.Unit($"deploy/systemd/{name}.service");
        string Service(string key) => unit.Single(e => e.Section == "Service" && e.Key == key).Value;

        Assert.Equal("notify", Service("Type"));
        Assert.Equal("main", Service("NotifyAccess"));
        Assert.InRange(int.Parse(Service("WatchdogSec"), System.Globalization.CultureInfo.InvariantCulture), 10, 120);
        Assert.Equal("on-failure", Service("Restart"));
        // EX_CONFIG: the programs exit 78 on a configuration error, naming the key; retrying cannot fix it.
        Assert.Contains("78", Service("RestartPreventExitStatus").Split(' '));
        Assert.Equal($"/opt/{name}/{name}", Service("ExecStart"));
        Assert.StartsWith($"/etc/{name}/", Service("EnvironmentFile"), StringComparison.Ordinal);
        Assert.Equal(name, Service("StateDirectory"));
        Assert.Contains(unit, e => e.Section == "Install" && e.Key == "WantedBy" && e.Value == "multi-user.target");
    }

    [Theory]
    [MemberData(nameof(Units))]
    public void A_unit_runs_sandboxed_as_a_user_without_capabilities_and_leaves_the_JIT_alone(string name)
    {
        var unit = RepositoryFiles.Unit($"deploy/systemd/{name}.service");
        string? Service(string key) => unit.SingleOrDefault(e => e.Section == "Service" && e.Key == key).Value;

        Assert.NotNull(Service("User"));
        Assert.NotEqual("root", Service("User"));
        Assert.Equal("yes", Service("NoNewPrivileges"));
        Assert.Equal("", Service("CapabilityBoundingSet"));
        Assert.Equal("strict", Service("ProtectSystem"));
        Assert.Equal("yes", Service("ProtectHome"));
        Assert.Equal("yes", Service("PrivateTmp"));
        Assert.Equal("AF_UNIX AF_INET AF_INET6", Service("RestrictAddressFamilies"));
        // .NET's JIT maps memory writable and executable: this option would kill the process at start.
        Assert.Null(Service("MemoryDenyWriteExecute"));
    }

    [Fact]
    public void The_agent_unit_gives_Redis_time_to_save_when_it_stops()
    {
        var unit = RepositoryFiles.Unit("deploy/systemd/redis-agent.service");
        string Service(string key) => unit.Single(e => e.Section == "Service" && e.Key == key).Value;

        // Signals to the agent only: it stops redis-server with SIGTERM and waits Exec:StopTimeout (30 s),
        // and an agent that dies leaves Redis serving (SystemdUnitTests: mixed SIGKILLs it, unsaved).
        Assert.Equal("process", Service("KillMode"));
        // Longer than the agent's own shutdown (StopTimeout + the margin), or systemd's SIGKILL could cut Redis's save.
        var stopTimeout = new RedisAgent.Supervision.ExecOptions().StopTimeout + RedisAgent.Hosting.AgentHost.ShutdownMargin;
        Assert.True(int.Parse(Service("TimeoutStopSec"), System.Globalization.CultureInfo.InvariantCulture) > stopTimeout.TotalSeconds);
        Assert.Contains("/var/lib/redis", Service("ReadWritePaths").Split(' '));
    }

    [Theory]
    [MemberData(nameof(Units))]
    public async Task Systemd_analyze_verify_accepts_every_key_and_value(string name)
    {
        using var directory = new RedisAgent.Testing.TempDirectory("unit");
        // verify checks that ExecStart exists: point it at a program that does.
        var text = (await File.ReadAllTextAsync(RepositoryFiles.Path($"deploy/systemd/{name}.service"))).Replace($"/opt/{name}/{name}", "/bin/true", StringComparison.Ordinal);
        var copy = directory.File($"{name}.service");
        await File.WriteAllTextAsync(copy, text);

        using var process = Process.Start(new ProcessStartInfo("systemd-analyze", ["verify", copy])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        // Unknown keys and bad values are warnings with exit code 0: the output must be empty too.
        Assert.True(process.ExitCode == 0 && output.Trim().Length == 0, $"systemd-analyze verify {name}.service (exit {process.ExitCode}):\n{output}");
    }
}
