using System.Net.Sockets;
using RedisAgent.Probing;
using RedisAgent.Node;

namespace RedisAgent.Tests.Probing;

public sealed class PortProbeClassifyTests
{
    [Theory]
    [InlineData("+PONG", "Pong")]
    [InlineData("+OK", "OtherReply")]
    [InlineData("-LOADING Redis is loading the dataset in memory", "Busy")]
    [InlineData("-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.", "Busy")]
    [InlineData("-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", "Busy")]
    [InlineData("-NOAUTH Authentication required.", "AuthFailed")]
    [InlineData("-WRONGPASS invalid username-password pair or user is disabled.", "AuthFailed")]
    [InlineData("-DENIED Redis is running in protected mode", "AuthFailed")]
    [InlineData("-ERR AUTH <password> called without any password configured for the default user.", "AuthFailed")]
    [InlineData("-ERR invalid password", "AuthFailed")]
    [InlineData("-ERR unknown command 'PING'", "OtherReply")]
    public void Classify_Reply_IsWhatTheServerMeant(string reply, string expected) =>
        Assert.Equal(Enum.Parse<PortProbeOutcome>(expected), PortProbe.Classify(reply));

    [Theory]
    [InlineData(SocketError.ConnectionRefused, "Refused")]
    [InlineData(SocketError.ConnectionReset, "Reset")]
    [InlineData(SocketError.TimedOut, "ConnectTimeout")]
    [InlineData(SocketError.HostUnreachable, "Failed")]
    public void ClassifySocketError_KnownErrors(SocketError error, string expected) =>
        Assert.Equal(Enum.Parse<PortProbeOutcome>(expected), PortProbe.ClassifySocketError(error));
}
