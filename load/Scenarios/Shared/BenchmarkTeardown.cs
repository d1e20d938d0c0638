using System.Diagnostics;
using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;

namespace RedisAgent.Load;

/// <summary>
/// The end of a benchmark's run on the loopback hosts, in the one safe order: the agents first (so
/// none restarts what is being stopped), then the coordinator, the sentinels, every tagged iptables
/// rule left, and the hosts (sshd, redis-server) last.
/// </summary>
internal static class BenchmarkTeardown
{
    public static async Task StopAsync(IEnumerable<AgentUnderTest> agents, FailoverUnderTest? coordinator, IEnumerable<Process> sentinels, IEnumerable<TestHost> hosts)
    {
        foreach (var agent in agents)
        {
            await agent.DisposeAsync().ConfigureAwait(false);
        }

        if (coordinator is not null)
        {
            await coordinator.DisposeAsync().ConfigureAwait(false);
        }

        await RedisSentinels.StopAsync(sentinels).ConfigureAwait(false);
        Partition.SweepLeftovers();
        foreach (var host in hosts)
        {
            await host.DisposeAsync().ConfigureAwait(false);
        }
    }
}
