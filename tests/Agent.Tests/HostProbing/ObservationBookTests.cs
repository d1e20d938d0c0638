using RedisAgent.HostProbing;
using RedisAgent.Node;
using RedisAgent.Probing;

namespace RedisAgent.Tests.HostProbing;

public sealed class ObservationBookTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.UnixEpoch;

    [Fact]
    public void Record_keeps_last_results_counts_and_latency_sums_per_kind()
    {
        var book = new ObservationBook();
        book.Register("db-2", isLocal: false, "127.0.0.12:6379", "127.0.0.12:22");

        book.RecordPort("db-2", new PortProbeResult(PortProbeOutcome.Pong, T0, TimeSpan.FromMilliseconds(2)), NodeVerdict.Unknown, null);
        var pong = new PortProbeResult(PortProbeOutcome.Pong, T0.AddSeconds(1), TimeSpan.FromMilliseconds(3));
        book.RecordPort("db-2", pong, NodeVerdict.Healthy, new VerdictChange(NodeVerdict.Unknown, NodeVerdict.Healthy, pong.At, pong, 2));
        book.RecordHost("db-2", new HostProbeResult(HostProbeOutcome.Answered, T0.AddSeconds(2), TimeSpan.FromMilliseconds(80)), HostVerdict.Up, NodeVerdict.Healthy, null);
        book.RecordPort("db-2", new PortProbeResult(PortProbeOutcome.Refused, T0.AddSeconds(3), TimeSpan.FromMilliseconds(1)), NodeVerdict.Healthy, null);

        var target = book["db-2"]!;
        Assert.Equal(NodeVerdict.Healthy, target.Verdict);
        Assert.Equal(T0.AddSeconds(1), target.VerdictSince);
        Assert.Equal(PortProbeOutcome.Refused, target.LastPort!.Outcome);
        Assert.Equal(2, target.PortOutcomes[PortProbeOutcome.Pong]);
        Assert.Equal(1, target.PortOutcomes[PortProbeOutcome.Refused]);
        Assert.Equal(3, target.PortProbes);
        Assert.Equal(TimeSpan.FromMilliseconds(6), target.PortLatencySum);
        Assert.Equal(1, target.HostProbes);
        Assert.Equal(TimeSpan.FromMilliseconds(80), target.HostLatencySum);
        Assert.Equal(HostVerdict.Up, target.HostVerdict);
    }

    [Fact]
    public void Host_silence_counts_from_the_start_of_the_first_unanswered_ssh_probe_even_while_it_is_in_flight()
    {
        var book = new ObservationBook();
        book.Register("db-2", isLocal: false, "127.0.0.12:6379", "127.0.0.12:22");

        book.HostProbeStarting("db-2", T0);
        book.RecordHost("db-2", new HostProbeResult(HostProbeOutcome.Answered, T0, TimeSpan.FromMilliseconds(1)), HostVerdict.Up, NodeVerdict.Healthy, null);
        Assert.Null(book["db-2"]!.HostSilentSince);

        book.HostProbeStarting("db-2", T0.AddSeconds(1));
        Assert.Equal(T0.AddSeconds(1), book["db-2"]!.HostSilentSince);

        book.RecordHost("db-2", new HostProbeResult(HostProbeOutcome.Timeout, T0.AddSeconds(1), TimeSpan.FromSeconds(2)), HostVerdict.Up, NodeVerdict.Healthy, null);
        book.HostProbeStarting("db-2", T0.AddSeconds(3));
        Assert.Equal(T0.AddSeconds(1), book["db-2"]!.HostSilentSince);

        book.RecordHost("db-2", new HostProbeResult(HostProbeOutcome.Refused, T0.AddSeconds(3), TimeSpan.FromMilliseconds(1)), HostVerdict.Up, NodeVerdict.Healthy, null);
        Assert.Null(book["db-2"]!.HostSilentSince);
    }

    [Fact]
    public void Record_unregistered_target_throws() =>
        Assert.Throws<InvalidOperationException>(() =>
            new ObservationBook().RecordPort("ghost", new PortProbeResult(PortProbeOutcome.Pong, T0, TimeSpan.Zero), NodeVerdict.Healthy, null));
}
