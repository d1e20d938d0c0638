using System.Diagnostics;

namespace RedisAgent.Tests.Metrics;

/// <summary>The shipped alert rules pass promtool's checks and its unit tests.</summary>
public sealed class AlertRulesTests
{
    private static readonly string Directory = Path.Combine(AppContext.BaseDirectory, "deploy", "prometheus");

    [Fact]
    public async Task The_rules_pass_promtool_check_rules()
    {
        var (code, output) = await PromToolAsync("check", "rules", "alerts.yml");

        Assert.True(code == 0, output);
        Assert.Contains("SUCCESS", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_rules_fire_as_their_unit_tests_say()
    {
        var (code, output) = await PromToolAsync("test", "rules", "alerts.test.yml");

        Assert.True(code == 0, output);
    }

    [Fact]
    public async Task The_example_configuration_passes_promtool_check_config()
    {
        var (code, output) = await PromToolAsync("check", "config", "prometheus.example.yml");

        Assert.True(code == 0, output);
    }

    private static async Task<(int Code, string Output)> PromToolAsync(params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(Testing.PrometheusServer.PromTool, arguments)
        {
            WorkingDirectory = Directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await stdout + await stderr);
    }
}
