using System.Diagnostics;
using System.Globalization;
using Grpc.Net.Client;
using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;
using RedisAgent.Tests.HostProbing;
using RedisFailover.Protos;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// Resource "cache" on three hosts (loopback aliases, each with sshd, redis-server and an agent)
/// and a coordinator with a 5 s window: host-1 the primary, host-2 and host-3 in sync with it.
/// A test class derives from it and says what its coordinator and agents need besides.
/// </summary>
public abstract class ThreeHostResource(LoopbackHosts hosts) : IAsyncLifetime
{
    private protected List<TestHost> Hosts { get; } = [];

    /// <summary>The running agents by host name; a test that stops one removes it.</summary>
    private protected Dictionary<string, AgentUnderTest> Agents { get; } = new(StringComparer.Ordinal);

    private protected FailoverUnderTest Coordinator { get; private set; } = null!;

    private protected GrpcChannel Channel { get; private set; } = null!;

    /// <summary>Settings the coordinator starts with besides the resource.</summary>
    private protected virtual Dictionary<string, string?> CoordinatorSettings() => [];

    /// <summary>Changes to an agent's settings before it starts.</summary>
    private protected virtual void ConfigureAgent(TestHost host, Dictionary<string, string?> settings)
    {
    }

    public async Task InitializeAsync()
    {
        for (var i = 1; i <= 3; i++)
        {
            Hosts.Add(await hosts.StartAsync(i, alsoLoopback: true));
        }

        foreach (var replica in Hosts.Skip(1))
        {
            await Resp.CommandAsync(replica.Address, replica.Redis.Port, "REPLICAOF", Hosts[0].Address, Hosts[0].Redis.Port.ToString(CultureInfo.InvariantCulture));
        }

        Coordinator = await FailoverUnderTest.StartAsync("cache", [.. Hosts.Select(h => (h.Name, $"{h.Address}:{h.Redis.Port}"))], CoordinatorSettings());
        Channel = GrpcChannel.ForAddress(Coordinator.Url);
        foreach (var host in Hosts)
        {
            var settings = Coordinator.AgentSettings(host, Hosts, hosts.Keys.ClientKey, "cache");
            ConfigureAgent(host, settings);
            Agents[host.Name] = await AgentUnderTest.StartAsync(settings);
        }

        await Poll.UntilAsync(() => Status() is { State: ResourceState.Healthy, Primary: "host-1" } status && status.Nodes.All(n => n.Connected) && Coordinator.Coordinator["cache"]!.Machine.InSyncNodes.Count() == 2,
            TimeSpan.FromSeconds(30), () => Coordinator.Describe());
    }

    public async Task DisposeAsync()
    {
        foreach (var agent in Agents.Values)
        {
            await agent.DisposeAsync();
        }

        Channel?.Dispose();
        if (Coordinator is not null)
        {
            await Coordinator.DisposeAsync();
        }

        foreach (var host in Hosts)
        {
            await host.DisposeAsync();
        }
    }

    /// <summary>Stops a host's agent, as a host loss does.</summary>
    private protected async Task StopAgentAsync(string host)
    {
        await Agents[host].DisposeAsync();
        Agents.Remove(host);
    }

    /// <summary>The loopback hosts' fixture (keys, more hosts).</summary>
    private protected LoopbackHosts Machines => hosts;

    /// <summary>The primary the URL file names now (host, port).</summary>
    private protected async Task<(string Host, int Port)> PublishedPrimaryAsync()
    {
        var address = (await File.ReadAllTextAsync(Coordinator.UrlFile)).Trim()["REDIS_URL=redis://".Length..];
        var colon = address.LastIndexOf(':');
        return (address[..colon], int.Parse(address[(colon + 1)..], CultureInfo.InvariantCulture));
    }

    /// <summary>Runs the redis-failover CLI against the coordinator, the token in its environment, nothing on its standard input.</summary>
    private protected Task<(int Code, string Stdout, string Stderr)> CliAsync(params string[] arguments) => CliWithInputAsync(null, arguments);

    /// <summary>Runs the CLI with <paramref name="input"/> (or nothing) on its standard input, as a person typing at its prompt.</summary>
    private protected async Task<(int Code, string Stdout, string Stderr)> CliWithInputAsync(string? input, params string[] arguments)
    {
        var start = new ProcessStartInfo(Binaries.Path("redis-failover"), [.. arguments, "--url", Coordinator.Url])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.Environment["FAILOVER_TOKEN"] = FailoverUnderTest.Token;
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(input ?? "");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        return (process.ExitCode, await stdout, await stderr);
    }

    private protected ResourceStatus Status() => new Admin.AdminClient(Channel).GetStatus(new ResourceRequest { Resource = "cache" }, Coordinator.Headers);
}
