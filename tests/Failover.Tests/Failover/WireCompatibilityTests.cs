using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using RedisAgent.Testing;
using RedisFailover.Protos;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// The contract's words are enums now; agents of the previous release send only the names they
/// used to. A fleet of old agents, of new ones, or both mixed must lead this coordinator to the same
/// decisions: the same roles and verdicts, a suspicion from a silent host, a refutation from a
/// refused port. Driven over real gRPC streams against the real coordinator.
/// </summary>
public sealed class WireCompatibilityTests : IAsyncLifetime
{
    public enum Encoding
    {
        /// <summary>As agents of the previous release: string names only.</summary>
        Legacy,

        /// <summary>As this release's agents send when talking to a new coordinator: enums only.</summary>
        Typed,
    }

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private FailoverUnderTest _coordinator = null!;
    private GrpcChannel _channel = null!;
    private readonly List<AsyncDuplexStreamingCall<AgentMessage, CoordinatorMessage>> _calls = [];

    public async Task InitializeAsync()
    {
        // Nodes on addresses nothing serves: the coordinator never dials them, it only hears agents.
        _coordinator = await FailoverUnderTest.StartAsync("cache", [("n1", "127.0.0.1:1"), ("n2", "127.0.0.1:2"), ("n3", "127.0.0.1:3")],
            new Dictionary<string, string?> { ["Failover:Window"] = "00:01:00", ["Failover:RoundInterval"] = "00:00:10" });
        _channel = GrpcChannel.ForAddress(_coordinator.Url);
    }

    public async Task DisposeAsync()
    {
        foreach (var call in _calls)
        {
            call.Dispose();
        }

        _channel.Dispose();
        await _coordinator.DisposeAsync();
    }

    [Theory]
    [InlineData(Encoding.Legacy, Encoding.Legacy)]
    [InlineData(Encoding.Typed, Encoding.Typed)]
    [InlineData(Encoding.Legacy, Encoding.Typed)]
    [InlineData(Encoding.Typed, Encoding.Legacy)]
    public async Task Old_and_new_agents_lead_the_coordinator_to_the_same_decisions(Encoding primary, Encoding replicas)
    {
        var n1 = await ConnectAsync("n1", NodeRole.Primary, primary);
        var n2 = await ConnectAsync("n2", NodeRole.Replica, replicas);
        var n3 = await ConnectAsync("n3", NodeRole.Replica, replicas);
        await SendAsync(n1, Report(NodeRole.Primary, Verdict.Healthy, primary));
        await SendAsync(n2, Report(NodeRole.Replica, Verdict.Healthy, replicas));
        await SendAsync(n3, Report(NodeRole.Replica, Verdict.Healthy, replicas));

        var status = await WaitForStatusAsync(s => s.State == ResourceState.Healthy && s.Primary == "n1" && s.Nodes.All(n => n.LastReport is not null),
            "n1 the primary, its standbys in sync, every report applied");
        Assert.Equal("Healthy", status.StateName);
        Assert.Equal([NodeRole.Primary, NodeRole.Replica, NodeRole.Replica], status.Nodes.OrderBy(n => n.Node).Select(n => n.Role));
        Assert.Equal(["master", "slave", "slave"], status.Nodes.OrderBy(n => n.Node).Select(n => n.RoleName));
        Assert.All(status.Nodes, n => Assert.Equal((Verdict.Healthy, "Healthy"), (n.LocalVerdict, n.LocalVerdictName)));

        // n2 finds n1's host silent: a suspicion opens.
        await SendAsync(n2, Report(NodeRole.Replica, Verdict.Healthy, replicas, Seen("n1", Verdict.HostUnreachable, HostVerdict.Down, PortOutcome.ConnectTimeout, replicas)));
        await WaitForStatusAsync(s => s.State == ResourceState.Confirming, "a confirmation of n1's loss");
        Assert.Contains(_coordinator.Store.Journal("cache"), r => r.Kind == "suspect" && r.Text.Contains("n2 reports n1 HostUnreachable", StringComparison.Ordinal));

        // n3's port probe was refused: n1's host is alive, the suspicion is refuted.
        await SendAsync(n3, Report(NodeRole.Replica, Verdict.Healthy, replicas, Seen("n1", Verdict.ProcessDown, HostVerdict.Up, PortOutcome.Refused, replicas)));
        await WaitForStatusAsync(s => s.State == ResourceState.Healthy, "the suspicion refuted");
        Assert.Contains(_coordinator.Store.Journal("cache"), r => r.Kind == "refuted" && r.Text.Contains("n3 reports n1 ProcessDown", StringComparison.Ordinal));
        Assert.Equal(1, (await StatusAsync()).Term);
    }

    [Fact]
    public async Task A_word_this_release_does_not_know_reads_as_unknown_and_decides_nothing()
    {
        var n1 = await ConnectAsync("n1", NodeRole.Primary, Encoding.Typed);
        var n2 = await ConnectAsync("n2", NodeRole.Replica, Encoding.Typed);
        await SendAsync(n1, Report(NodeRole.Primary, Verdict.Healthy, Encoding.Typed));
        await SendAsync(n2, Report(NodeRole.Replica, Verdict.Healthy, Encoding.Typed));
        await WaitForStatusAsync(s => s.State == ResourceState.Healthy, "healthy");

        // A newer agent's verdict 42 with a name that is no verdict ("Healthy,Busy" would parse as a combination):
        // neither silence nor an answer, so no suspicion opens.
        var report = Report(NodeRole.Replica, (Verdict)42, Encoding.Typed);
        report.LocalVerdictName = "Healthy,Busy";
        report.Observations.Add(new Observation { Target = "n1", Verdict = (Verdict)42, VerdictName = "3", HostVerdict = (HostVerdict)9, Port = (PortOutcome)99, At = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) });
        await SendAsync(n2, report);

        var status = await WaitForStatusAsync(s => s.Nodes.Single(n => n.Node == "n2").LocalVerdict == Verdict.Unknown, "n2's verdict read as Unknown");
        Assert.Equal(ResourceState.Healthy, status.State);
        Assert.DoesNotContain(_coordinator.Store.Journal("cache"), r => r.Kind == "suspect");
    }

    private async Task<AsyncDuplexStreamingCall<AgentMessage, CoordinatorMessage>> ConnectAsync(string node, NodeRole role, Encoding encoding)
    {
        var call = new AgentLink.AgentLinkClient(_channel).Connect(_coordinator.Headers);
        _calls.Add(call);
        var registration = new Registration { Resource = "cache", Node = node, Address = "127.0.0.1:" + node[1..] };
        if (encoding == Encoding.Legacy)
        {
            registration.RoleName = role.LegacyName();
        }
        else
        {
            registration.Role = role;
        }

        await SendAsync(call, new AgentMessage { Registration = registration });
        await Poll.UntilAsync(async () => (await StatusAsync()).Nodes.Single(n => n.Node == node).Connected, Deadline, () => node + " connected");
        return call;
    }

    private static Report Report(NodeRole role, Verdict verdict, Encoding encoding, params Observation[] seen)
    {
        var report = new Report
        {
            ReplicationOffset = 1000,
            LinkUp = role == NodeRole.Replica,
            PrimaryAddress = role == NodeRole.Replica ? "127.0.0.1:1" : "",
            Settings = new Settings(),
            Observations = { seen },
        };
        if (encoding == Encoding.Legacy)
        {
            report.RoleName = role.LegacyName();
            report.LocalVerdictName = verdict.ToString();
        }
        else
        {
            report.Role = role;
            report.LocalVerdict = verdict;
        }

        return report;
    }

    private static Observation Seen(string target, Verdict verdict, HostVerdict host, PortOutcome port, Encoding encoding)
    {
        var seen = new Observation { Target = target, At = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) };
        if (encoding == Encoding.Legacy)
        {
            // The previous release sent its own enums' member names, which these are named after.
            (seen.VerdictName, seen.HostVerdictName, seen.PortName) = (verdict.ToString(), host.ToString(), port.ToString());
        }
        else
        {
            (seen.Verdict, seen.HostVerdict, seen.Port) = (verdict, host, port);
        }

        return seen;
    }

    private static Task SendAsync(AsyncDuplexStreamingCall<AgentMessage, CoordinatorMessage> call, Report report) =>
        SendAsync(call, new AgentMessage { Report = report });

    private static Task SendAsync(AsyncDuplexStreamingCall<AgentMessage, CoordinatorMessage> call, AgentMessage message) =>
        call.RequestStream.WriteAsync(message);

    private Task<ResourceStatus> StatusAsync() =>
        _coordinator.Admin(_channel).GetStatusAsync(new ResourceRequest { Resource = "cache" }, _coordinator.Headers).ResponseAsync;

    private async Task<ResourceStatus> WaitForStatusAsync(Func<ResourceStatus, bool> condition, string what)
    {
        ResourceStatus? last = null;
        await Poll.UntilAsync(async () => condition(last = await StatusAsync()), Deadline, () => $"{what}; last status {last}\n{_coordinator.Describe()}");
        return last!;
    }
}
