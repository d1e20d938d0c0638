using RedisAgent.HostProbing;
using RedisAgent.Probing;
using RedisAgent.Node;

namespace RedisAgent.Tests.HostProbing;

public sealed class NodeJudgementTests
{
    [Theory]
    // An answering port decides alone, whatever SSH says.
    [InlineData("Healthy", "Pong", "Down", true, "Healthy")]
    [InlineData("Busy", "Busy", "Down", true, "Busy")]
    [InlineData("Hung", "Hung", "Down", true, "Hung")]
    [InlineData("Misconfigured", "AuthFailed", "Down", true, "Misconfigured")]
    // A refused or reset port: the host's kernel answered.
    [InlineData("ProcessDown", "Refused", "Down", true, "ProcessDown")]
    [InlineData("ProcessDown", "Reset", "Unknown", true, "ProcessDown")]
    // A silent port needs the host's word.
    [InlineData("ProcessDown", "ConnectTimeout", "Down", true, "HostUnreachable")]
    [InlineData("ProcessDown", "ConnectTimeout", "Up", true, "ProcessDown")]
    [InlineData("ProcessDown", "ConnectTimeout", "Misconfigured", true, "ProcessDown")]
    [InlineData("ProcessDown", "Failed", "Down", true, "HostUnreachable")]
    [InlineData("ProcessDown", "ConnectTimeout", "Unknown", true, null)]
    // Without host probes, the port alone (the agent's own host is there, or nobody can tell).
    [InlineData("ProcessDown", "ConnectTimeout", "Unknown", false, "ProcessDown")]
    public void Combine_Evidence_GivesTheVerdict(string port, string lastPort, string host, bool hostProbed, string? expected)
    {
        var verdict = NodeJudgement.Combine(
            Enum.Parse<NodeVerdict>(port), Enum.Parse<PortProbeOutcome>(lastPort), Enum.Parse<HostVerdict>(host), hostProbed);

        Assert.Equal(expected is null ? null : Enum.Parse<NodeVerdict>(expected), verdict);
    }

    [Fact]
    public void Target_judge_silent_port_then_silent_host_is_host_unreachable_only_when_the_host_verdict_settles_never_a_process_down_on_the_way()
    {
        var judge = new TargetJudge(new VerdictOptions { FailuresToDown = 3, SuccessesToUp = 1 }, hostProbed: true);
        var t = DateTimeOffset.UnixEpoch;
        judge.ObservePort(new PortProbeResult(PortProbeOutcome.Pong, t, TimeSpan.Zero));
        judge.ObserveHost(new HostProbeResult(HostProbeOutcome.Answered, t, TimeSpan.Zero));
        Assert.Equal(NodeVerdict.Healthy, judge.Verdict);

        for (var i = 1; i <= 3; i++)
        {
            judge.ObservePort(new PortProbeResult(PortProbeOutcome.ConnectTimeout, t.AddSeconds(i), TimeSpan.Zero));
        }

        // The port is down and silent, and the host's last answer is from before the silence began: nothing
        // is decided yet (a partition starting fails port probes faster than SSH ones; a restart now would
        // be aimed at a host that is going away).
        Assert.Equal(NodeVerdict.Healthy, judge.Verdict);
        judge.ObserveHost(new HostProbeResult(HostProbeOutcome.Timeout, t.AddSeconds(4), TimeSpan.Zero));
        judge.ObserveHost(new HostProbeResult(HostProbeOutcome.Timeout, t.AddSeconds(5), TimeSpan.Zero));
        Assert.Equal(NodeVerdict.Healthy, judge.Verdict);
        var (verdict, change, hostChange) = judge.ObserveHost(new HostProbeResult(HostProbeOutcome.Timeout, t.AddSeconds(6), TimeSpan.Zero));

        Assert.Equal(NodeVerdict.HostUnreachable, verdict);
        Assert.Equal(NodeVerdict.Healthy, change!.From);
        Assert.Equal(HostProbeOutcome.Timeout, change.HostEvidence!.Outcome);
        Assert.Equal(HostVerdict.Down, hostChange!.To);
    }

    [Fact]
    public void Target_judge_silent_port_on_a_host_that_answers_during_the_silence_is_a_process_down()
    {
        // A port firewalled or a listen queue full: no connect, while sshd answers. The host is there.
        var judge = new TargetJudge(new VerdictOptions { FailuresToDown = 3, SuccessesToUp = 1 }, hostProbed: true);
        var t = DateTimeOffset.UnixEpoch;
        judge.ObservePort(new PortProbeResult(PortProbeOutcome.Pong, t, TimeSpan.Zero));
        judge.ObserveHost(new HostProbeResult(HostProbeOutcome.Answered, t, TimeSpan.Zero));
        for (var i = 1; i <= 3; i++)
        {
            judge.ObservePort(new PortProbeResult(PortProbeOutcome.ConnectTimeout, t.AddSeconds(i), TimeSpan.Zero));
        }

        Assert.Equal(NodeVerdict.Healthy, judge.Verdict);
        var (verdict, change, _) = judge.ObserveHost(new HostProbeResult(HostProbeOutcome.Answered, t.AddSeconds(3.5), TimeSpan.Zero));

        Assert.Equal(NodeVerdict.ProcessDown, verdict);
        Assert.Equal(HostProbeOutcome.Answered, change!.HostEvidence!.Outcome);
    }

    [Fact]
    public void Target_judge_host_answering_again_before_the_next_port_probe_is_not_a_process_down()
    {
        // A partition heals: SSH answers first, while the port's last probe is still the silent one from
        // during the partition. That is no evidence of a dead process, and a restart would hit a healthy Redis.
        var (judge, t) = CutOffForTwoSeconds();

        Assert.Equal(NodeVerdict.HostUnreachable, judge.Verdict);

        var (healed, change, _) = judge.ObserveHost(new HostProbeResult(HostProbeOutcome.Answered, t.AddSeconds(3), TimeSpan.Zero));
        Assert.Equal(NodeVerdict.HostUnreachable, healed);
        Assert.Null(change);

        judge.ObservePort(new PortProbeResult(PortProbeOutcome.Pong, t.AddSeconds(3.2), TimeSpan.Zero));
        Assert.Equal(NodeVerdict.Healthy, judge.Verdict);
    }

    [Fact]
    public void Target_judge_port_still_silent_after_the_host_answers_again_is_a_process_down()
    {
        var (judge, t) = CutOffForTwoSeconds();

        judge.ObserveHost(new HostProbeResult(HostProbeOutcome.Answered, t.AddSeconds(3), TimeSpan.Zero));
        // A port probe that began after the host answered, and is still silent: the host is there, Redis is not.
        var (verdict, change) = judge.ObservePort(new PortProbeResult(PortProbeOutcome.ConnectTimeout, t.AddSeconds(4), TimeSpan.Zero));

        Assert.Equal(NodeVerdict.ProcessDown, verdict);
        Assert.Equal(NodeVerdict.HostUnreachable, change!.From);
    }

    [Theory]
    [InlineData("Answered", "Up")]
    [InlineData("CheckFailed", "Up")]
    [InlineData("Refused", "Up")]
    [InlineData("AuthFailed", "Misconfigured")]
    [InlineData("HostKeyRejected", "Misconfigured")]
    [InlineData("Timeout", "Down")]
    [InlineData("Unreachable", "Down")]
    [InlineData("Failed", "Down")]
    public void HostVerdictPolicy_RepeatedOutcome_SettlesOnItsMeaning(string outcome, string expected)
    {
        var policy = new HostVerdictPolicy(failuresToDown: 3, successesToUp: 2);
        HostVerdictChange? change = null;
        for (var i = 0; i < 3; i++)
        {
            change ??= policy.Observe(new HostProbeResult(Enum.Parse<HostProbeOutcome>(outcome), DateTimeOffset.UnixEpoch.AddSeconds(i), TimeSpan.Zero));
        }

        Assert.Equal(Enum.Parse<HostVerdict>(expected), change?.To);
    }

    [Fact]
    public void Host_verdict_policy_one_timeout_among_answers_changes_nothing()
    {
        var policy = new HostVerdictPolicy(failuresToDown: 3, successesToUp: 1);
        policy.Observe(new HostProbeResult(HostProbeOutcome.Answered, DateTimeOffset.UnixEpoch, TimeSpan.Zero));

        Assert.Null(policy.Observe(new HostProbeResult(HostProbeOutcome.Timeout, DateTimeOffset.UnixEpoch, TimeSpan.Zero)));
        Assert.Null(policy.Observe(new HostProbeResult(HostProbeOutcome.Timeout, DateTimeOffset.UnixEpoch, TimeSpan.Zero)));
        Assert.Null(policy.Observe(new HostProbeResult(HostProbeOutcome.Answered, DateTimeOffset.UnixEpoch, TimeSpan.Zero)));
        Assert.Equal(HostVerdict.Up, policy.Current);
    }

    /// <summary>A target healthy at t, then port and SSH silent at t+1 and t+2 (a partition), judged with thresholds of 2 and 1.</summary>
    private static (TargetJudge Judge, DateTimeOffset T) CutOffForTwoSeconds()
    {
        var judge = new TargetJudge(new VerdictOptions { FailuresToDown = 2, SuccessesToUp = 1 }, hostProbed: true);
        var t = DateTimeOffset.UnixEpoch;
        judge.ObservePort(new PortProbeResult(PortProbeOutcome.Pong, t, TimeSpan.Zero));
        judge.ObserveHost(new HostProbeResult(HostProbeOutcome.Answered, t, TimeSpan.Zero));
        for (var i = 1; i <= 2; i++)
        {
            judge.ObservePort(new PortProbeResult(PortProbeOutcome.ConnectTimeout, t.AddSeconds(i), TimeSpan.Zero));
            judge.ObserveHost(new HostProbeResult(HostProbeOutcome.Timeout, t.AddSeconds(i), TimeSpan.Zero));
        }

        return (judge, t);
    }
}
