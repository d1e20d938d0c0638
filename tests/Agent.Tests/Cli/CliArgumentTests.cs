using RedisAgent.Cli;

namespace RedisAgent.Tests.Cli;

/// <summary>The agent's own commands refuse an address they cannot use before they send anything, naming it without what must stay secret.</summary>
public sealed class CliArgumentTests
{
    [Theory]
    [InlineData("health")]
    [InlineData("logs")]
    public async Task An_address_with_a_password_in_it_is_refused_without_showing_it(string command)
    {
        var (code, error) = await RunAsync(command, "--url", "http://admin:Sekr1t-pass@127.0.0.1:9379");

        Assert.Equal(LogsCommand.UsageExitCode, code);
        Assert.Contains("--url must not hold a user or password", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Sekr1t-pass", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("health", "garbage")]
    [InlineData("logs", "ftp://127.0.0.1:9379")]
    public async Task An_address_that_is_not_http_is_refused(string command, string url)
    {
        var (code, error) = await RunAsync(command, "--url", url);

        Assert.Equal(LogsCommand.UsageExitCode, code);
        Assert.Contains($"--url must be an http:// address, not '{url}'", error, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Error)> RunAsync(string command, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = command == "health"
            ? await HealthCommand.RunAsync(args, output, error, CancellationToken.None)
            : await LogsCommand.RunAsync(args, output, error, CancellationToken.None);
        return (code, error.ToString());
    }
}
