using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace RedisAgent.Hosting;

/// <summary>Builds and runs the agent's host; tests build it the same way.</summary>
internal static class AgentHost
{
    /// <summary>sysexits.h EX_CONFIG: systemd and operators read it as "fix the configuration, do not retry".</summary>
    public const int ConfigurationErrorExitCode = 78;

    public static HostApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = args,
            ApplicationName = "redis-agent",
            // appsettings.json ships beside the binary; the working directory is wherever systemd or a shell left it.
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Services.AddSystemd();
        builder.Logging.AddSimpleConsole(options =>
        {
            options.SingleLine = true;
            options.UseUtcTimestamp = true;
            options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        });
        builder.Services.AddRedisAgent(builder.Configuration);
        return builder;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        try
        {
            using var host = CreateBuilder(args).Build();
            // Validate before starting, so a bad key costs one clear line rather than the host's
            // "failed to start" stack trace.
            host.Services.GetService<IStartupValidator>()?.Validate();
            await host.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (Exception ex) when (DescribeConfigurationError(ex) is { } message)
        {
            await Console.Error.WriteLineAsync($"redis-agent: configuration error: {message}").ConfigureAwait(false);
            return ConfigurationErrorExitCode;
        }
    }

    /// <summary>The message for a configuration fault, or null when the exception is something else.</summary>
    internal static string? DescribeConfigurationError(Exception exception) => exception switch
    {
        OptionsValidationException validation => string.Join(" ", validation.Failures),
        AgentConfigurationException configuration => configuration.Message,
        // The binder's own message names the key: "Failed to convert configuration value at 'Probe:Interval' ...".
        InvalidOperationException binding when binding.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal)
            => binding.Message + ValidValues(binding.Message),
        AggregateException aggregate => aggregate.InnerExceptions.Select(DescribeConfigurationError).FirstOrDefault(m => m is not null),
        _ => null,
    };

    /// <summary>For an enum-typed key, the values it takes: "magic" is wrong, but what is right?</summary>
    private static string ValidValues(string bindingMessage)
    {
        var match = System.Text.RegularExpressions.Regex.Match(bindingMessage, "to type '([^']+)'");
        return match.Success && typeof(AgentHost).Assembly.GetType(match.Groups[1].Value) is { IsEnum: true } type
            ? " Valid values: " + string.Join(", ", Enum.GetNames(type).Select(n => n.ToLowerInvariant())) + "."
            : "";
    }
}
