using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using RedisAgent.Hosting;
using RedisShared.Hosting;

namespace RedisAgent.Coordination;

/// <summary>The link to redis-failover. Section <c>Coordinator</c>; without <c>Url</c> the agent works alone.</summary>
internal sealed class CoordinatorOptions
{
    public const string Section = "Coordinator";

    /// <summary>
    /// The coordinator's address, e.g. <c>http://127.0.0.1:9380</c>; with several coordinators (the
    /// etcd store), every one of them, comma-separated. The agent follows the one that leads.
    /// </summary>
    public string? Url { get; set; }

    /// <summary>Every address in <see cref="Url"/>, in order.</summary>
    public IReadOnlyList<string> Urls =>
        (Url ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The shared token (<c>Failover:Token</c> on the coordinator).</summary>
    public string? Token { get; set; }

    /// <summary>The resource this node belongs to, as the coordinator names it.</summary>
    public string? Resource { get; set; }

    /// <summary>Where this node is (a zone, a rack): shown in the journal beside each vantage's answer.</summary>
    public string Zone { get; set; } = "";

    /// <summary>How often the agent reports its node and its observations.</summary>
    public TimeSpan ReportInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// When set, an agent that has heard neither the coordinator nor any peer for this long fences
    /// its own node if it is a primary (writes refused), so that a primary cut off from everyone
    /// stops taking writes before the coordinator's window ends and promotes another. Lifted only
    /// on the coordinator's word.
    /// </summary>
    public TimeSpan? SelfFenceAfter { get; set; }
}

internal sealed class CoordinatorOptionsValidator : IValidateOptions<Coordination.CoordinatorOptions>
{
    public ValidateOptionsResult Validate(string? name, Coordination.CoordinatorOptions options)
    {
        var errors = new ConfigErrors();
        if (options.Url is { Length: > 0 })
        {
            foreach (var url in options.Urls)
            {
                errors.Require(Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https",
                    $"Coordinator:Url must be an http:// or https:// address, or several comma-separated (got '{url}').");
            }

            errors.Require(options.Token is { Length: > 0 }, "Coordinator:Token is required with Coordinator:Url (the coordinator's Failover:Token).");
            errors.Require(options.Resource is { Length: > 0 }, "Coordinator:Resource is required with Coordinator:Url (the resource's name on the coordinator).");
        }

        errors.Positive($"{CoordinatorOptions.Section}:{nameof(CoordinatorOptions.ReportInterval)}", options.ReportInterval);
        if (options.SelfFenceAfter is { } selfFence)
        {
            errors.Positive($"{CoordinatorOptions.Section}:{nameof(CoordinatorOptions.SelfFenceAfter)}", selfFence);
            // The coordinator is heard once per report (it acknowledges each): a fence sooner than two
            // report intervals would take one late acknowledgement for isolation.
            errors.Require(options.ReportInterval <= TimeSpan.Zero || selfFence >= 2 * options.ReportInterval,
                $"Coordinator:SelfFenceAfter ({selfFence}) must be at least two Coordinator:ReportInterval ({options.ReportInterval}): the coordinator is heard once per report, so a shorter fence would take one late acknowledgement for isolation.");
        }

        return errors.Result();
    }
}

internal static class CoordinationRegistration
{
    /// <summary>The Coordinator section (the link to redis-failover), bound and validated at start.</summary>
    public static IServiceCollection AddCoordinationOptions(this IServiceCollection services, IConfiguration configuration)
    {
        // One Bind call per type, which the configuration binding generator sees.
        services.AddOptionsWithValidateOnStart<CoordinatorOptions, CoordinatorOptionsValidator>().Bind(configuration.GetSection(CoordinatorOptions.Section));
        return services;
    }
}
