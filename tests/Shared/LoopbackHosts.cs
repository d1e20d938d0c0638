using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;

namespace RedisAgent.Tests.HostProbing;

/// <summary>
/// Tests that use the loopback aliases 127.0.0.11-13 and iptables: never in parallel with each
/// other or with anything else, and any rule a crashed run left behind is swept first.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LoopbackHostsCollection : ICollectionFixture<LoopbackHosts>
{
    public const string Name = "Loopback hosts";
}

public sealed class LoopbackHosts : IDisposable
{
    public LoopbackHosts()
    {
        Partition.SweepLeftovers();
        Keys = new SshKeys();
    }

    public SshKeys Keys { get; }

    public Task<TestHost> StartAsync(int number, bool alsoLoopback = false, string? password = null, TestCertificates? tls = null) =>
        TestHost.StartAsync($"host-{number}", $"127.0.0.{10 + number}", Keys, alsoLoopback, password: password, tls: tls);

    public void Dispose()
    {
        Partition.SweepLeftovers();
        Keys.Dispose();
    }
}
