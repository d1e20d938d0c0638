extern alias agent;
using System.Net;
using ClientConnections = agent::RedisShared.Hosting.ClientConnections;

namespace RedisAgent.Tests.Hosting;

/// <summary>Who counts as one client, and the count itself (the bound's use by the agent: ConnectionFloodTests).</summary>
public sealed class ClientConnectionsTests
{
    [Theory]
    [InlineData("127.0.0.2", "127.0.0.2")]
    [InlineData("::ffff:127.1.2.3", "127.1.2.3")]
    [InlineData("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::")]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2::")]
    [InlineData("::1", "::")]
    public void A_client_is_an_IPv4_address_or_an_IPv6_slash_64(string remote, string client) =>
        Assert.Equal(IPAddress.Parse(client), ClientConnections.ClientOf(new IPEndPoint(IPAddress.Parse(remote), 40000)));

    [Fact]
    public void A_connection_without_an_IP_address_is_no_client() =>
        Assert.Null(ClientConnections.ClientOf(new System.Net.Sockets.UnixDomainSocketEndPoint("/tmp/agent.sock")));

    [Fact]
    public void Each_client_holds_at_most_its_bound_and_a_closed_connection_frees_its_place()
    {
        var clients = new ClientConnections(2, _ => { });
        var one = IPAddress.Parse("127.0.2.1");
        var two = IPAddress.Parse("127.0.2.2");
        Assert.True(clients.TryOpen(one));
        Assert.True(clients.TryOpen(one));
        Assert.False(clients.TryOpen(one));
        Assert.True(clients.TryOpen(two));
        Assert.Equal(2, clients.Clients);
        clients.Close(one);
        Assert.True(clients.TryOpen(one));
        clients.Close(one);
        clients.Close(one);
        clients.Close(two);
        // Nothing is kept for a client with nothing open, and a close too many counts nothing.
        Assert.Equal(0, clients.Clients);
        clients.Close(two);
        Assert.Equal(0, clients.Clients);
        Assert.True(clients.TryOpen(two));
    }
}
