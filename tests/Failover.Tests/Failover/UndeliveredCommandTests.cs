using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;
using RedisAgent.Tests.HostProbing;
using RedisFailover.Protos;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// A command sent into an agent's stream that dies before the agent answers (issue 16, item 5): the
/// coordinator journals it as <c>undelivered</c> when the stream ends, and sends it again once the
/// agent is back, so the node ends as it was told. The stream is cut for real: host-2's agent talks
/// from host-2's address, and iptables drops what passes between it and the coordinator's port.
/// </summary>
[Collection(LoopbackHostsCollection.Name)]
public sealed class UndeliveredCommandTests(LoopbackHosts hosts) : ThreeHostResource(hosts)
{
    private protected override void ConfigureAgent(TestHost host, Dictionary<string, string?> settings) =>
        settings["Agent:SourceAddress"] = host.Address;

    [Fact]
    public async Task A_command_whose_stream_dies_unanswered_is_journalled_undelivered_and_carried_out_once_the_agent_is_back()
    {
        var replica = Hosts[1];
        using (Partition.FromPort(replica.Address, new Uri(Coordinator.Url).Port))
        {
            // Sent at once: the coordinator still counts host-2's stream alive (it notices a silent
            // stream within about 2 s), so host-2's ApplySettings goes into the cut stream.
            await new Admin.AdminClient(Channel).SetSettingsAsync(new SetSettingsRequest { Resource = "cache", Settings = new Settings { TimeoutSeconds = 77 } }, Coordinator.Headers);
            await Poll.UntilAsync(() => Coordinator.Store.Journal("cache").Any(r => r.Kind == "undelivered" && r.Text.Contains("for host-2", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(15), () => "host-2's command journalled undelivered\n" + Coordinator.Describe());
            Assert.NotEqual("77", await TimeoutOfAsync(replica));
        }

        // Healed: host-2's agent redials, and the setting it never received is carried out.
        await Poll.UntilAsync(async () => await TimeoutOfAsync(replica) == "77", TimeSpan.FromSeconds(20), () => "host-2 given the timeout again\n" + Coordinator.Describe());
        var undelivered = Coordinator.Store.Journal("cache").First(r => r.Kind == "undelivered" && r.Text.Contains("for host-2", StringComparison.Ordinal));
        Assert.Contains("ApplySettings", undelivered.Text, StringComparison.Ordinal);
        foreach (var other in Hosts.Where(h => h != replica))
        {
            Assert.Equal("77", await TimeoutOfAsync(other));
        }
    }

    private static async Task<string> TimeoutOfAsync(TestHost host) =>
        (await Resp.CommandAsync(host.Address, host.Redis.Port, "CONFIG", "GET", "timeout")).Split('\n')[1];
}
