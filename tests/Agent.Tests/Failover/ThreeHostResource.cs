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

    private protected ResourceStatus Status() => new Admin.AdminClient(Channel).GetStatus(new ResourceRequest { Resource = "cache" }, Coordinator.Headers);
}
