using RedisAgent.Logs;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Logs;

/// <summary>Following a real redis-server's log file through rotation by rename and by truncation.</summary>
public sealed class LogFileTailerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Rotation_by_rename_loses_no_line_and_repeats_none()
    {
        await using var redis = await StartRedisAsync();
        // The check while inotify watches an hour away: only inotify can bring these lines, and the
        // rotation, within the deadline.
        await using var agent = await StartTailingAsync(redis.LogFile, watchedPoll: "01:00:00");
        await WaitForLineAsync(agent, "Ready to accept connections");

        await LogAsync(redis, "before", 5);
        await WaitForLineAsync(agent, "before-5");
        File.Move(redis.LogFile, redis.LogFile + ".1");
        await LogAsync(redis, "after", 5);
        await WaitForLineAsync(agent, "after-5");

        Assert.Equal(
            [.. Numbered("before", 5), .. Numbered("after", 5)],
            DebugLines(agent));
        Assert.Contains(agent.Logs.Entries, e => e.EventId == 1512);
    }

    [Fact]
    public async Task Rotation_by_copy_truncate_loses_no_line_and_repeats_none()
    {
        await using var redis = await StartRedisAsync();
        await using var agent = await StartTailingAsync(redis.LogFile);
        await WaitForLineAsync(agent, "Ready to accept connections");

        await LogAsync(redis, "first", 5);
        await WaitForLineAsync(agent, "first-5");
        File.Copy(redis.LogFile, redis.LogFile + ".1");
        await using (new FileStream(redis.LogFile, FileMode.Truncate, FileAccess.Write, FileShare.ReadWrite))
        {
        }

        await Poll.UntilAsync(() => agent.Logs.Contains(1513), Deadline, () => "truncation not noticed:\n" + agent.Logs.Text);
        await LogAsync(redis, "second", 5);
        await WaitForLineAsync(agent, "second-5");

        Assert.Equal([.. Numbered("first", 5), .. Numbered("second", 5)], DebugLines(agent));
    }

    [Fact]
    public async Task File_that_appears_later_is_followed_and_a_partial_line_waits_for_its_end()
    {
        using var scratch = new TempDirectory("tail");
        var path = scratch.File("redis.log");
        await using var agent = await StartTailingAsync(path);

        await File.AppendAllTextAsync(path, "1:M 26 Nov 2026 09:30:00.000 * complete line\n1:M 26 Nov 2026 09:30:01.000 * partial");
        await WaitForLineAsync(agent, "complete line");
        Assert.DoesNotContain(agent.LogBus.History(), l => l.Text.Contains("partial", StringComparison.Ordinal));

        await File.AppendAllTextAsync(path, " and its end\n");
        await WaitForLineAsync(agent, "partial and its end");
        var line = agent.LogBus.History().Single(l => l.Text.Contains("partial", StringComparison.Ordinal));
        Assert.Equal("2026-11-26T09:30:01Z redis[r]: * partial and its end", line.Format("r"));
    }

    [Fact]
    public async Task A_line_over_64_KiB_ships_as_one_line_that_says_how_many_bytes_were_cut()
    {
        using var scratch = new TempDirectory("tail");
        var path = scratch.File("redis.log");
        await using var agent = await StartTailingAsync(path);
        var text = "long " + new string('x', 100_000);

        await File.AppendAllTextAsync(path, $"1:M 26 Nov 2026 09:30:00.000 * {text}\n1:M 26 Nov 2026 09:30:01.000 * after it\n");
        await WaitForLineAsync(agent, "after it");

        var lines = agent.LogBus.History().Where(l => l.Source == RedisAgent.Logs.LogSource.Redis).ToList();
        Assert.Equal(2, lines.Count);
        var cut = lines[0].Text;
        // The default Logs:MaxLineLength (8192 characters) kept; the rest of the 100,005 counted.
        Assert.Equal($"{text[..8192]} [truncated {text.Length - 8192} bytes]", cut);
        Assert.Equal("after it", lines[1].Text);
    }

    [Fact]
    public async Task A_directory_that_appears_later_is_polled_until_its_file_opens_then_watched()
    {
        using var scratch = new TempDirectory("tail");
        var directory = Path.Combine(scratch.Path, "later");
        var path = Path.Combine(directory, "redis.log");
        await using var agent = await StartTailingAsync(path, watchedPoll: "01:00:00");

        // No directory to watch: found by polling (every 50 ms here).
        await Poll.UntilAsync(() => agent.Logs.Contains(1517), Deadline, () => "no warning that inotify cannot watch:\n" + agent.Logs.Text);
        Assert.DoesNotContain(agent.Logs.Entries, e => e.EventId == 1516);
        Directory.CreateDirectory(directory);
        await File.AppendAllTextAsync(path, "1:M 26 Nov 2026 09:30:00.000 * found by polling\n");
        await WaitForLineAsync(agent, "found by polling");
        Assert.Contains(agent.Logs.Entries, e => e.EventId == 1516);
        // Watched from the moment it opened: the next check is an hour away, inotify brings this one.
        await File.AppendAllTextAsync(path, "1:M 26 Nov 2026 09:30:01.000 * brought by inotify\n");
        await WaitForLineAsync(agent, "brought by inotify");
    }

    private static Task<RedisServer> StartRedisAsync() => RedisServer.StartAsync(new RedisServerOptions
    {
        Daemonize = true,
        Arguments = ["--enable-debug-command", "yes"],
    });

    private static Task<AgentUnderTest> StartTailingAsync(string logFile, string watchedPoll = "00:00:02") => AgentUnderTest.StartAsync(new Dictionary<string, string?>
    {
        ["Redis:Url"] = $"redis://127.0.0.1:{LoopbackPorts.Free()}",
        ["Restart:Driver"] = "none",
        ["Logs:File"] = logFile,
        ["Logs:FileFromStart"] = "true",
        ["Logs:FilePollInterval"] = "00:00:00.050",
        ["Logs:FileWatchedPollInterval"] = watchedPoll,
        ["Logs:RedisTimeZone"] = "Etc/UTC",
    });

    private static async Task LogAsync(RedisServer redis, string prefix, int count)
    {
        foreach (var message in Numbered(prefix, count))
        {
            Assert.Equal("OK", await Resp.CommandAsync(redis.Host, redis.Port, "DEBUG", "LOG", message));
        }
    }

    private static IEnumerable<string> Numbered(string prefix, int count) => Enumerable.Range(1, count).Select(i => $"{prefix}-{i}");

    private static List<string> DebugLines(AgentUnderTest agent) =>
        [.. agent.LogBus.History().Where(l => l.Text.StartsWith("DEBUG LOG: ", StringComparison.Ordinal)).Select(l => l.Text["DEBUG LOG: ".Length..])];

    private static Task WaitForLineAsync(AgentUnderTest agent, string text) =>
        Poll.UntilAsync(() => agent.LogBus.History().Any(l => l.Text.Contains(text, StringComparison.Ordinal)), Deadline,
            () => $"no line with '{text}'. Stream:\n{string.Join('\n', agent.LogBus.History().Select(l => l.Format("r")))}\nAgent log:\n{agent.Logs.Text}");
}
