extern alias agent;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using RedisAgent.Testing;
using RefusedConnections = agent::RedisAgent.Metrics.RefusedConnections;

namespace RedisAgent.Tests.Metrics;

/// <summary>Refused connections: every one counted, each of the two lines said at most once a minute with what it has not said.</summary>
public sealed class RefusedConnectionsTests
{
    [Fact]
    public void Each_line_says_what_it_counted_since_it_was_last_said_at_most_once_a_minute_and_both_count_in_the_total()
    {
        var time = new FakeTimeProvider();
        using var logs = new CapturedLogs();
        using var refused = new RefusedConnections(time, new LoggerFactory([logs]).CreateLogger<RefusedConnections>());

        refused.Refused(3);
        refused.Refused(2);
        refused.RefusedFrom(IPAddress.Parse("127.0.2.7"));
        refused.RefusedFrom(IPAddress.Parse("127.0.2.8"));
        time.Advance(TimeSpan.FromSeconds(59));
        refused.Refused(1);
        Assert.Equal(["3 HTTP", "1 HTTP"], Said(logs));
        Assert.Contains("the last from 127.0.2.7", logs.Entries.Single(e => e.EventId == 1042).Message, StringComparison.Ordinal);

        time.Advance(TimeSpan.FromSeconds(1));
        refused.Refused(4);
        refused.RefusedFrom(IPAddress.Parse("127.0.2.9"));
        // 2 + 1 + 4 not yet said by 1041; 1 + 1 by 1042, the last client named.
        Assert.Equal(["3 HTTP", "1 HTTP", "7 HTTP", "2 HTTP"], Said(logs));
        Assert.Contains("the last from 127.0.2.9", logs.Entries.Last().Message, StringComparison.Ordinal);
        Assert.Equal(3 + 2 + 2 + 1 + 4 + 1, refused.Total);
    }

    private static List<string> Said(CapturedLogs logs) =>
        [.. logs.Entries.Where(e => e.EventId is 1041 or 1042).Select(e => string.Join(' ', e.Message.Split(' ').Take(2)))];
}
