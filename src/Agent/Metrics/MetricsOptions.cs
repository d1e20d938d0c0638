using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using RedisAgent.Hosting;
using RedisShared.Hosting;

namespace RedisAgent.Metrics;

/// <summary>The metrics log line. Section <c>Metrics</c>.</summary>
internal sealed class MetricsOptions
{
    public const string Section = "Metrics";

    /// <summary>How often a <c>source=REDIS ... sample#...</c> line goes into the log stream; zero turns it off.</summary>
    public TimeSpan LogInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The longest a rendering of <c>/metrics</c> is served before it is rebuilt (a new sample
    /// rebuilds it at once). The agent's own counters (probes, log lines) are at most this old;
    /// zero renders every scrape.
    /// </summary>
    public TimeSpan RenderInterval { get; set; } = TimeSpan.FromSeconds(1);
}

internal sealed class MetricsOptionsValidator : IValidateOptions<Metrics.MetricsOptions>
{
    public ValidateOptionsResult Validate(string? name, Metrics.MetricsOptions options)
    {
        var errors = new ConfigErrors();
        errors.NotNegative($"{MetricsOptions.Section}:{nameof(MetricsOptions.LogInterval)}", options.LogInterval);
        errors.NotNegative($"{MetricsOptions.Section}:{nameof(MetricsOptions.RenderInterval)}", options.RenderInterval);
        return errors.Result();
    }
}

internal static class MetricsRegistration
{
    /// <summary>Metrics: the Metrics, Plan and Plans sections (validated at start), the registry, its exposition and the metrics log line.</summary>
    public static IServiceCollection AddMetrics(this IServiceCollection services, IConfiguration configuration)
    {
        // One Bind call per type, which the configuration binding generator sees.
        services.AddOptionsWithValidateOnStart<MetricsOptions, MetricsOptionsValidator>().Bind(configuration.GetSection(MetricsOptions.Section));
        services.AddOptions<PlanOptions>()
            .Bind(configuration.GetSection(PlanOptions.Section))
            .Configure(options =>
            {
                // One Bind per plan: binding the dictionary whole silently drops a plan with a bad value.
                foreach (var section in configuration.GetSection(PlanOptions.CustomSection).GetChildren())
                {
                    var plan = new CustomPlanOptions();
                    section.Bind(plan);
                    options.Custom[section.Key] = plan;
                }
            })
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PlanOptions>, PlanOptionsValidator>());
        services.TryAddSingleton<AgentMetrics>();
        services.TryAddSingleton<MetricsExposition>();
        services.AddHostedService<MetricsLogLine>();
        return services;
    }
}
