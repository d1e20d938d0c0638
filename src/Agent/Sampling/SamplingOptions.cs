using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using RedisAgent.Hosting;
using RedisShared.Hosting;

namespace RedisAgent.Sampling;

/// <summary>How often the agent reads INFO and CONFIG from its node. Section <c>Sampling</c>.</summary>
internal sealed class SamplingOptions
{
    public const string Section = "Sampling";

    /// <summary>Time between two samples.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The largest INFO reply parsed (a real one is a few KB); a larger one is refused and reported.</summary>
    public int MaxReplyBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>The name the sampler's connection gives itself (<c>CLIENT SETNAME</c>), so operators can tell it from their own clients.</summary>
    public string ClientName { get; set; } = "redis-agent";
}

internal sealed class SamplingOptionsValidator : IValidateOptions<SamplingOptions>
{
    public ValidateOptionsResult Validate(string? name, SamplingOptions options)
    {
        var errors = new ConfigErrors();
        errors.Positive($"{SamplingOptions.Section}:{nameof(SamplingOptions.Interval)}", options.Interval);
        errors.Between($"{SamplingOptions.Section}:{nameof(SamplingOptions.MaxReplyBytes)}", options.MaxReplyBytes, 64 * 1024, 512 * 1024 * 1024);
        errors.Require(!string.IsNullOrWhiteSpace(options.ClientName) && !options.ClientName.Any(char.IsWhiteSpace),
            "Sampling:ClientName must be a non-empty name without spaces.");
        return errors.Result();
    }
}

internal static class SamplingRegistration
{
    /// <summary>Sampling: the Sampling section (validated at start), the book of the last sample and the sampler.</summary>
    public static IServiceCollection AddSampling(this IServiceCollection services, IConfiguration configuration)
    {
        // One Bind call per type, which the configuration binding generator sees.
        services.AddOptionsWithValidateOnStart<SamplingOptions, SamplingOptionsValidator>().Bind(configuration.GetSection(SamplingOptions.Section));
        services.TryAddSingleton<SampleBook>();
        services.AddHostedService<RedisSampler>();
        return services;
    }
}
