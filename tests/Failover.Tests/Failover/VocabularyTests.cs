using RedisAgent.Probing;
using RedisFailover.Protos;
using AgentHostVerdict = RedisAgent.HostProbing.HostVerdict;
using HostVerdict = RedisFailover.Protos.HostVerdict;
using RedisAgent.Node;

namespace RedisAgent.Tests.Failover;

/// <summary>The contract's words: one meaning for "a live host answered", and the previous release's names read back.</summary>
public sealed class VocabularyTests
{
    [Fact]
    public void Every_port_outcome_is_either_an_answer_of_a_live_host_or_silence()
    {
        foreach (var outcome in Enum.GetValues<PortOutcome>().Where(o => o != PortOutcome.Unspecified))
        {
            Assert.True(outcome.ProvesHostAlive() ^ outcome.IsSilence(), outcome.ToString());
        }

        Assert.False(PortOutcome.Unspecified.ProvesHostAlive() || PortOutcome.Unspecified.IsSilence());
    }

    [Theory]
    [InlineData("Pong", true)]
    [InlineData("Refused", true)]
    [InlineData("Hung", true)]
    [InlineData("TlsRejected", true)]
    [InlineData("ConnectTimeout", false)]
    [InlineData("Failed", false)]
    public void The_agent_and_the_coordinator_agree_on_what_proves_a_host_alive(string outcome, bool alive) =>
        Assert.Equal(alive, Enum.Parse<PortProbeOutcome>(outcome).ToWire().ProvesHostAlive());

    [Fact]
    public void Every_agent_word_has_a_wire_word_of_the_same_name()
    {
        // The previous release sent the agent's member names; a coordinator reads them back through
        // the wire enums, so the two must be named alike, member for member.
        foreach (var verdict in Enum.GetValues<NodeVerdict>())
        {
            Assert.Equal(verdict.ToString(), verdict.ToWire().ToString());
            Assert.Equal(verdict.ToWire(), Vocabulary.Read(Verdict.Unspecified, verdict.ToString()));
        }

        foreach (var verdict in Enum.GetValues<AgentHostVerdict>())
        {
            Assert.Equal(verdict.ToString(), verdict.ToWire().ToString());
            Assert.Equal(verdict.ToWire(), Vocabulary.Read(HostVerdict.Unspecified, verdict.ToString()));
        }

        foreach (var outcome in Enum.GetValues<PortProbeOutcome>())
        {
            Assert.Equal(outcome.ToString(), outcome.ToWire().ToString());
            Assert.Equal(outcome.ToWire(), Vocabulary.Read(PortOutcome.Unspecified, outcome.ToString()));
        }
    }

    [Theory]
    [InlineData("master", NodeRole.Primary)]
    [InlineData("slave", NodeRole.Replica)]
    [InlineData("unknown", NodeRole.Unknown)]
    [InlineData("", NodeRole.Unknown)]
    [InlineData("MASTER", NodeRole.Unknown)]
    public void A_role_is_read_as_INFO_says_it(string name, NodeRole role)
    {
        Assert.Equal(role, Vocabulary.RoleFromInfo(name));
        Assert.Equal(role, Vocabulary.Read(NodeRole.Unspecified, name));
    }

    [Theory]
    [InlineData("Healthy,Busy")]
    [InlineData("3")]
    [InlineData("Unspecified")]
    [InlineData("healthy ")]
    [InlineData("")]
    public void A_name_that_is_not_one_member_reads_as_unknown(string name) =>
        Assert.Equal(Verdict.Unknown, Vocabulary.Read(Verdict.Unspecified, name));

    [Fact]
    public void The_enum_wins_over_the_name_and_an_unknown_enum_falls_back_to_the_name()
    {
        Assert.Equal(Verdict.HostUnreachable, Vocabulary.Read(Verdict.HostUnreachable, "Healthy"));
        Assert.Equal(Verdict.Healthy, Vocabulary.Read((Verdict)42, "Healthy"));
        Assert.Equal(PortOutcome.Unspecified, Vocabulary.Read((PortOutcome)99, ""));
        Assert.Equal(NodeRole.Replica, Vocabulary.Read((NodeRole)7, "slave"));
    }
}
