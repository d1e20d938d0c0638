using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using RedisAgent.Hosting;
using RedisShared.Hosting;

namespace RedisAgent.Probing;

/// <summary>How often and how patiently the agent probes its node's port. Section <c>Probe</c>.</summary>
internal sealed class ProbeOptions
{
    public const string Section = "Probe";

    /// <summary>Time between the starts of two probes while the verdict is settled.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Time between probes while a failure is being confirmed: after a failed probe the agent looks
    /// again sooner, so that several observations (one blip changes nothing) do not cost several
    /// whole intervals.
    /// </summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Connect + PING must finish within this; past it the port counts as silent (or hung, if it connected).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(1);
}

internal sealed class ProbeOptionsValidator : IValidateOptions<ProbeOptions>
{
    public ValidateOptionsResult Validate(string? name, ProbeOptions options)
    {
        var errors = new ConfigErrors();
        errors.Positive($"{ProbeOptions.Section}:{nameof(ProbeOptions.Interval)}", options.Interval);
        errors.Positive($"{ProbeOptions.Section}:{nameof(ProbeOptions.RetryInterval)}", options.RetryInterval);
        errors.Positive($"{ProbeOptions.Section}:{nameof(ProbeOptions.Timeout)}", options.Timeout);
        errors.Require(options.RetryInterval <= options.Interval, "Probe:RetryInterval must not be longer than Probe:Interval.");
        return errors.Result();
    }
}

internal static class ProbingRegistration
{
    /// <summary>Probing: the Probe and Verdict sections (validated at start) and the loop that probes the local node.</summary>
    public static IServiceCollection AddProbing(this IServiceCollection services, IConfiguration configuration)
    {
        // One Bind call per type, which the configuration binding generator sees.
        services.AddOptionsWithValidateOnStart<ProbeOptions, ProbeOptionsValidator>().Bind(configuration.GetSection(ProbeOptions.Section));
        services.AddOptionsWithValidateOnStart<VerdictOptions, VerdictOptionsValidator>().Bind(configuration.GetSection(VerdictOptions.Section));
        services.AddHostedService<LocalNodeMonitor>();
        return services;
    }
}
