using System.Diagnostics;

namespace RedisAgent.Tests.Failover;

/// <summary>The redis-failover binary itself: bad configuration stops it at start, naming the keys.</summary>
public sealed class FailoverProcessTests
{
    private static readonly string Binary = Path.Combine(AppContext.BaseDirectory, "redis-failover");

    [Theory]
    [InlineData("Failover__Token=short", "Failover:Token is required")]
    [InlineData("Resources__0__Nodes__0__Address=nowhere", "Resources:0:Nodes:0:Address must be host:port (got 'nowhere')")]
    [InlineData("Failover__RoundInterval=00:05:00", "Failover:RoundInterval must be greater than zero and at most Failover:Window")]
    [InlineData("Failover__Quorum=0", "Failover:Quorum must be at least 1")]
    public async Task Bad_configuration_stops_it_with_exit_78_naming_the_key(string setting, string expected)
    {
        var environment = new Dictionary<string, string>
        {
            ["Failover__Token"] = "a-token-of-enough-length",
            ["Failover__StoreDirectory"] = Path.Combine(Path.GetTempPath(), "redis-failover-config-test"),
            ["Resources__0__Name"] = "cache",
            ["Resources__0__Nodes__0__Name"] = "a",
            ["Resources__0__Nodes__0__Address"] = "127.0.0.1:6379",
            ["Resources__0__Nodes__1__Name"] = "b",
            ["Resources__0__Nodes__1__Address"] = "127.0.0.1:6380",
            ["Urls"] = "http://127.0.0.1:0",
        };
        var (key, value) = (setting[..setting.IndexOf('=', StringComparison.Ordinal)], setting[(setting.IndexOf('=', StringComparison.Ordinal) + 1)..]);
        environment[key] = value;

        var (code, stderr) = await RunAsync(environment);

        Assert.Equal(78, code);
        Assert.Contains("redis-failover: configuration error:", stderr, StringComparison.Ordinal);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("a-token-of-enough-length", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Stderr)> RunAsync(Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(Binary) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        _ = await stdout;
        return (process.ExitCode, await stderr);
    }
}
