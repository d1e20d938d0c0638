using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using RedisAgent.Logs;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Logs;

/// <summary>A syslog drain that stops reading: it loses its own oldest lines, and nothing else notices.</summary>
public sealed class StalledDrainTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Stalled_drain_drops_its_own_oldest_lines_counts_them_exactly_says_so_in_line_and_delays_nothing_else()
    {
        using var drain = new TcpListener(IPAddress.Loopback, 0);
        drain.Server.ReceiveBufferSize = 4096;
        drain.Start();
        await using var agent = await AgentUnderTest.StartOwningRedisAsync(new Dictionary<string, string?>
        {
            ["Logs:Resource"] = "stall",
            ["Logs:Syslog:Url"] = $"tcp://127.0.0.1:{((IPEndPoint)drain.LocalEndpoint).Port}",
            ["Logs:Syslog:QueueCapacity"] = "200",
            ["Exec:Arguments:0"] = "--enable-debug-command",
            ["Exec:Arguments:1"] = "yes",
        });
        using var stalled = await drain.AcceptSocketAsync().WaitAsync(Deadline);
        var syslog = agent.LogBus.Sinks.Single();

        // A healthy live tail beside it.
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        using var tail = await http.GetAsync(new Uri(agent.HttpAddress, "/logs?num=0&tail=true&source=redis"), HttpCompletionOption.ResponseHeadersRead);
        var tailReader = new StreamReader(await tail.Content.ReadAsStreamAsync());
        var tailLines = ReadAllAsync(tailReader, "burst-end");

        // A burst far larger than the drain's queue and every socket buffer on the way.
        var payload = new string('x', 2000);
        await using (var client = await RespClient.ConnectAsync("127.0.0.1", agent.Port))
        {
            for (var i = 0; i < 5000; i++)
            {
                await client.CommandAsync("DEBUG", "LOG", $"burst-{i} {payload}");
            }

            await client.CommandAsync("DEBUG", "LOG", "burst-end");
        }

        var received = await tailLines.WaitAsync(Deadline);

        // The live tail saw every line of the burst.
        Assert.Equal(5000, received.Count(l => l.Contains("DEBUG LOG: burst-", StringComparison.Ordinal) && !l.Contains("burst-end", StringComparison.Ordinal)));

        // With the drain still stalled and its queue full, probes keep their 100 ms cadence: ten
        // probes take about a second; the bound is generous. (What a log firehose costs in CPU is
        // the log benchmark's question, not this test's: here the test's own load shares two cores.)
        Assert.True(syslog.Counters.Queued > 0, "the drain is not stalled: " + syslog.Counters);
        var probesBefore = agent.Snapshot.Probes;
        var clock = Stopwatch.StartNew();
        await agent.WaitForAsync(s => s.Probes >= probesBefore + 10, Deadline, "ten more probes");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3),
            $"ten probes took {clock.Elapsed.TotalSeconds:0.0} s; outcomes {string.Join(", ", agent.Snapshot.ProbeOutcomes.Select(o => $"{o.Key}:{o.Value}"))}");
        // The drain lost lines, and every one is accounted for.
        await Poll.UntilAsync(() => syslog.Counters.Received >= 5001, Deadline, () => syslog.Counters.ToString());
        var counters = syslog.Counters;
        Assert.True(counters.Dropped > 0, counters.ToString());
        Assert.Equal(counters.Received, counters.Shipped + counters.Dropped + counters.Queued);
        // Queued = the queue (at most its capacity) + the batch being written (at most 64 KB;
        // Redis cuts a log line at 1 KB, so fewer than 100 lines even with the agent's shorter lines).
        Assert.True(counters.Queued <= 200 + 100, counters.ToString());

        // Once the drain reads again, it is told what it lost, in-line: one marker per stretch of
        // loss (the sink may fall behind more than once before its socket is full), and together
        // they account for every line dropped.
        var frames = await ReadFramesUntilAsync(stalled, "burst-end").WaitAsync(Deadline);
        var markers = frames.Where(f => f.Contains("lines dropped since", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(markers);
        Assert.All(markers, m => Assert.Contains(" agent stall - - # ... ", m, StringComparison.Ordinal));
        var dropped = markers.Sum(m => long.Parse(m.Split("... ")[1].Split(' ')[0], CultureInfo.InvariantCulture));
        Assert.Equal(syslog.Counters.Dropped, dropped);
    }

    private static async Task<List<string>> ReadAllAsync(StreamReader reader, string last)
    {
        var lines = new List<string>();
        while (await reader.ReadLineAsync() is { } line)
        {
            lines.Add(line);
            if (line.EndsWith(last, StringComparison.Ordinal))
            {
                return lines;
            }
        }

        return lines;
    }

    /// <summary>Reads RFC 6587 octet-counted frames until one contains <paramref name="last"/>.</summary>
    private static async Task<List<string>> ReadFramesUntilAsync(Socket socket, string last)
    {
        var frames = new List<string>();
        var buffer = new List<byte>();
        var chunk = new byte[65536];
        while (true)
        {
            var read = await socket.ReceiveAsync(chunk);
            if (read == 0)
            {
                return frames;
            }

            buffer.AddRange(chunk.AsSpan(0, read));
            while (true)
            {
                var space = buffer.IndexOf((byte)' ');
                if (space < 0)
                {
                    break;
                }

                var length = int.Parse(Encoding.ASCII.GetString(buffer.GetRange(0, space).ToArray()), CultureInfo.InvariantCulture);
                if (buffer.Count < space + 1 + length)
                {
                    break;
                }

                var frame = Encoding.UTF8.GetString(buffer.GetRange(space + 1, length).ToArray());
                buffer.RemoveRange(0, space + 1 + length);
                frames.Add(frame);
                if (frame.EndsWith(last, StringComparison.Ordinal))
                {
                    return frames;
                }
            }
        }
    }
}
