using System.Globalization;
using System.Text.RegularExpressions;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Reliability;

/// <summary>
/// 2,000 live tails that never read, while Redis writes a burst of long lines: the tails beyond
/// the cap are refused, the agent's memory stays bounded, and its probes keep their pace.
/// </summary>
[Collection(nameof(TailStormTests))]
public sealed partial class TailStormTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Two_thousand_stalled_tails_are_capped_and_the_probes_keep_their_pace()
    {
        using var state = new TempDirectory("storm");
        var port = LoopbackPorts.Free();
        var url = $"http://127.0.0.1:{LoopbackPorts.Free()}";
        await using var agent = AgentProcess.Start(new Dictionary<string, string>
        {
            ["REDIS_URL"] = $"redis://127.0.0.1:{port}",
            ["Urls"] = url,
            ["Agent__StateDirectory"] = state.Path,
            ["Exec__InstallIfMissing"] = "false",
            // Every tail asked for is a connection, all from one address: room for all 2,000 (the defaults hold 1,000, 100 a client; ConnectionFloodTests tries those bounds).
            ["Http__MaxConnections"] = "2100",
            ["Http__MaxConnectionsPerClient"] = "2100",
            // DEBUG LOG writes a line of our choosing to Redis's log (its stdout, which the agent reads).
            ["Exec__Arguments__0"] = "--enable-debug-command",
            ["Exec__Arguments__1"] = "yes",
        });
        await agent.WaitForOutputAsync("is Healthy (was Unknown)", Deadline);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue }) { Timeout = TimeSpan.FromSeconds(30) };

        var tails = new List<HttpResponseMessage>();
        try
        {
            for (var batch = 0; batch < 20; batch++)
            {
                tails.AddRange(await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => http.GetAsync($"{url}/logs?tail=true", HttpCompletionOption.ResponseHeadersRead))));
            }

            // A burst that fills every stalled tail's queue (and its connection's buffers) to its bound...
            var line = new string('x', 4000);
            await using var redis = await RespClient.ConnectAsync("127.0.0.1", port);
            for (var i = 0; i < 3000; i++)
            {
                Assert.Equal("OK", await redis.CommandAsync("DEBUG", "LOG", $"burst {i} {line}"));
            }

            // ...then ten probes (one a second) while Redis goes on writing 100 lines a second to tails that never read.
            var before = await ProbeHistogramAsync(http, url);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (var i = 0; i < 2000 && (await ProbeHistogramAsync(http, url)).Count - before.Count < 10; i++)
            {
                Assert.Equal("OK", await redis.CommandAsync("DEBUG", "LOG", $"steady {i} {line[..500]}"));
                await Task.Delay(10);
            }

            var after = await ProbeHistogramAsync(http, url);
            Assert.Equal(256, tails.Count(t => t.IsSuccessStatusCode));
            Assert.Equal(2000 - 256, tails.Count(t => (int)t.StatusCode == 429));
            var probes = after.Count - before.Count;
            Assert.True(probes >= 10, $"only {probes} probes in {clock.Elapsed}");
            var fast = after.Within50Ms - before.Within50Ms;
            var bounded = after.Within500Ms - before.Within500Ms;
            // The target is a p99 under 50 ms (docs/reliability.md). A shared 2-core machine cannot hold a
            // test to every probe, so the test asks for eight of ten, and for none near the probe's timeout
            // (Probe:Timeout, 1 s), where a healthy node could be judged down: none over half of it. When
            // each tail formatted each line for itself, 1 to 7 of 10 made 50 ms and one took over 500 ms
            // at times (the collector and 256 tails' formatting before the probe's turn); now 10 of 10.
            Assert.True(bounded == probes && fast >= probes - 2, $"{probes - fast} of {probes} probes took over 50 ms and {probes - bounded} over 500 ms, half the probe's timeout, under 2,000 stalled tails");
            var rss = ResidentMegabytes(agent.ProcessId);
            Assert.True(rss < 600, $"the agent holds {rss} MB with 256 stalled tails (their queues share the lines they hold)");
            Assert.DoesNotContain("ProcessDown", agent.Output, StringComparison.Ordinal);
        }
        finally
        {
            tails.ForEach(t => t.Dispose());
        }
    }

    private static async Task<(double Count, double Within50Ms, double Within500Ms)> ProbeHistogramAsync(HttpClient http, string url)
    {
        var text = await http.GetStringAsync($"{url}/metrics");
        double Value(string suffix) => double.Parse(
            Regex.Match(text, $@"^redis_agent_probe_duration_seconds_{suffix}\{{[^}}]*kind=""port""[^}}]*\}} (\S+)$", RegexOptions.Multiline) is { Success: true } m
                ? m.Groups[1].Value
                : "0",
            CultureInfo.InvariantCulture);
        return (Value("count"), ValueOfBucket(text, "0.05"), ValueOfBucket(text, "0.5"));
    }

    private static double ValueOfBucket(string text, string le)
    {
        foreach (Match m in Bucket().Matches(text))
        {
            if (m.Groups["labels"].Value.Contains("kind=\"port\"", StringComparison.Ordinal) && m.Groups["labels"].Value.Contains($"le=\"{le}\"", StringComparison.Ordinal))
            {
                return double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    private static long ResidentMegabytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }

    [GeneratedRegex(@"^redis_agent_probe_duration_seconds_bucket\{(?<labels>[^}]*)\} (?<value>\S+)$", RegexOptions.Multiline)]
    private static partial Regex Bucket();
}

/// <summary>The tail storm measures probe latency: it runs alone, not beside other tests' load.</summary>
[CollectionDefinition(nameof(TailStormTests), DisableParallelization = true)]
public sealed class TailStormCollection;
