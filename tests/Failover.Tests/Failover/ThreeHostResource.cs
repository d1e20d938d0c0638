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

    /// <summary>Starts host <paramref name="index"/> (1-3).</summary>
    private protected virtual Task<TestHost> StartHostAsync(int index) => hosts.StartAsync(index, alsoLoopback: true);

    /// <summary>The operator's own setup before the coordinator starts: <paramref name="replica"/> replicates <paramref name="primary"/>.</summary>
    private protected virtual async Task JoinReplicaAsync(TestHost replica, TestHost primary) =>
        await Resp.CommandAsync(replica.Address, replica.Redis.Port, "REPLICAOF", primary.Address, primary.Redis.Port.ToString(CultureInfo.InvariantCulture));

    /// <summary>The test's channel to the coordinator's Admin API.</summary>
    private protected virtual GrpcChannel CreateChannel(string url) => GrpcChannel.ForAddress(url);

    /// <summary>What the test's status reads carry to be let in.</summary>
    private protected virtual Grpc.Core.Metadata ReadHeaders => Coordinator.Headers;

    public async Task InitializeAsync()
    {
        for (var i = 1; i <= 3; i++)
        {
            Hosts.Add(await StartHostAsync(i));
        }

        foreach (var replica in Hosts.Skip(1))
        {
            await JoinReplicaAsync(replica, Hosts[0]);
        }

        Coordinator = await FailoverUnderTest.StartAsync("cache", [.. Hosts.Select(h => (h.Name, $"{h.Address}:{h.Redis.Port}"))], CoordinatorSettings());
        Channel = CreateChannel(Coordinator.Url);
        foreach (var host in Hosts)
        {
            Agents[host.Name] = await StartAgentAsync(host);
        }

        await Poll.UntilAsync(() => Status() is { State: ResourceState.Healthy, Primary: "host-1" } status && status.Nodes.All(n => n.Connected) && Coordinator.Coordinator["cache"]!.Machine.InSyncNodes.Count() == 2,
            TimeSpan.FromSeconds(30), () => Coordinator.Describe());
    }

    public virtual async Task DisposeAsync()
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

    /// <summary>Starts <paramref name="host"/>'s agent (with a restart driver unless <paramref name="restarts"/> is false), its settings changed by <see cref="ConfigureAgent"/> and then <paramref name="extra"/>.</summary>
    private protected async Task<AgentUnderTest> StartAgentAsync(TestHost host, bool restarts = true, Dictionary<string, string?>? extra = null)
    {
        var settings = Coordinator.AgentSettings(host, Hosts, hosts.Keys.ClientKey, "cache", restarts);
        ConfigureAgent(host, settings);
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return await AgentUnderTest.StartAsync(settings);
    }

    /// <summary>Polls the coordinator's status until <paramref name="condition"/> holds (30 s unless <paramref name="timeout"/>), and returns it.</summary>
    private protected async Task<ResourceStatus> WaitForStateAsync(Func<ResourceStatus, bool> condition, string what, TimeSpan? timeout = null)
    {
        var admin = new Admin.AdminClient(Channel);
        ResourceStatus? last = null;
        string? error = null;
        await Poll.UntilAsync(
            async () =>
            {
                try
                {
                    return condition(last = await admin.GetStatusAsync(new ResourceRequest { Resource = "cache" }, ReadHeaders));
                }
                catch (Grpc.Core.RpcException ex) when (ex.StatusCode is Grpc.Core.StatusCode.Unavailable or Grpc.Core.StatusCode.Internal)
                {
                    // A coordinator the test just restarted closes the channel's old connection (GOAWAY): the next call goes to the new one.
                    error = ex.Status.Detail;
                    return false;
                }
            },
            timeout ?? TimeSpan.FromSeconds(30), () => $"{what}\nStatus: {last}\nLast call error: {error ?? "none"}\n{DescribeAgents()}\n{Coordinator.Describe()}");
        return last!;
    }

    /// <summary>What each running agent sees of each target, and its last log lines: for a failure's message.</summary>
    private protected string DescribeAgents() => string.Join('\n', Agents.Select(a =>
        $"agent {a.Key}: " + string.Join("; ", a.Value.Book.Targets.Values.Select(t => $"{t.Name}: {AgentUnderTest.Describe(t)}")) + "\n" +
        string.Join('\n', a.Value.Logs.Entries.Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Information).TakeLast(15).Select(e => $"  {e.At:HH:mm:ss.fff} [{e.EventId}] {e.Message}"))));

    /// <summary>Stops the coordinator and starts another, with a new store and <paramref name="settings"/> besides the resource; the agents are the test's to restart.</summary>
    private protected async Task ReplaceCoordinatorAsync(Dictionary<string, string?> settings)
    {
        await Coordinator.DisposeAsync();
        Coordinator = await FailoverUnderTest.StartAsync("cache", [.. Hosts.Select(h => (h.Name, $"{h.Address}:{h.Redis.Port}"))], settings);
        Channel.Dispose();
        Channel = CreateChannel(Coordinator.Url);
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

    private protected ResourceStatus Status() => new Admin.AdminClient(Channel).GetStatus(new ResourceRequest { Resource = "cache" }, ReadHeaders);
}
