using System.Globalization;
using Microsoft.Extensions.Options;
using RedisAgent.Hosting;
using RedisShared.Hosting;

namespace RedisAgent.Metrics;

/// <summary>A plan's limits: the memory Redis may use and the client connections it may hold.</summary>
internal sealed record Plan(string Name, long MemoryBytes, long Connections, bool BuiltIn);

/// <summary>
/// Heroku Data for Redis plans, by name (<c>mini</c>, <c>premium-0</c> ... <c>premium-14</c>, and
/// the same limits for <c>private-</c> and <c>shield-</c>), plus the custom plans of the configuration.
/// Sizes are binary, as in redis.conf (<c>25mb</c> is 25 × 1024 × 1024 bytes).
/// </summary>
internal static class Plans
{
    private const long MiB = 1024L * 1024;
    private const long GiB = 1024L * MiB;

    private static readonly (string Tier, long Memory, long Connections)[] Tiers =
    [
        ("0", 50 * MiB, 40),
        ("1", 100 * MiB, 80),
        ("2", 250 * MiB, 200),
        ("3", 500 * MiB, 400),
        ("4", 750 * MiB, 700),
        ("5", 1 * GiB, 1_000),
        ("7", 7 * GiB, 10_000),
        ("9", 10 * GiB, 25_000),
        ("10", 25 * GiB, 40_000),
        ("12", 50 * GiB, 65_000),
        ("14", 100 * GiB, 65_000),
    ];

    public static IReadOnlyDictionary<string, Plan> BuiltIn { get; } = CreateBuiltIn();

    /// <summary>The plan named <paramref name="name"/>: a custom one first, then the built-in table; null when neither has it.</summary>
    public static Plan? Find(string name, IReadOnlyDictionary<string, CustomPlanOptions> custom)
    {
        foreach (var (customName, plan) in custom)
        {
            if (string.Equals(customName, name, StringComparison.OrdinalIgnoreCase) && TryParseSize(plan.Memory, out var memory) && plan.Connections is { } connections)
            {
                return new Plan(customName, memory, connections, BuiltIn: false);
            }
        }

        return BuiltIn.GetValueOrDefault(name);
    }

    /// <summary>
    /// Parses a size the way redis.conf does: a plain number of bytes, or a number with
    /// <c>k</c>/<c>m</c>/<c>g</c> (powers of 1000) or <c>kb</c>/<c>mb</c>/<c>gb</c> (powers of 1024), case-insensitive.
    /// </summary>
    public static bool TryParseSize(string? text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var s = text.Trim().ToLowerInvariant();
        var digits = s.TakeWhile(char.IsAsciiDigit).Count();
        var (number, unit) = (s[..digits], s[digits..].Trim());
        long multiplier = unit switch
        {
            "" or "b" => 1,
            "k" => 1000,
            "kb" => 1024,
            "m" => 1000 * 1000,
            "mb" => MiB,
            "g" => 1000L * 1000 * 1000,
            "gb" => GiB,
            _ => 0,
        };
        if (multiplier == 0 || !long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value <= 0)
        {
            return false;
        }

        try
        {
            bytes = checked(value * multiplier);
            return true;
        }
        catch (OverflowException)
        {
            return false;
        }
    }

    private static Dictionary<string, Plan> CreateBuiltIn()
    {
        var plans = new Dictionary<string, Plan>(StringComparer.OrdinalIgnoreCase) { ["mini"] = new("mini", 25 * MiB, 20, BuiltIn: true) };
        foreach (var family in new[] { "premium", "private", "shield" })
        {
            foreach (var (tier, memory, connections) in Tiers)
            {
                var name = $"{family}-{tier}";
                plans[name] = new Plan(name, memory, connections, BuiltIn: true);
            }
        }

        return plans;
    }
}

/// <summary>Which plan the node is on. Section <c>Plan</c>; custom plans are defined under <c>Plans</c>.</summary>
internal sealed class PlanOptions
{
    public const string Section = "Plan";

    public const string CustomSection = "Plans";

    /// <summary>A built-in plan (<c>premium-0</c>...) or a name under <c>Plans</c>. Unset: the limits are Redis's own <c>maxmemory</c> and <c>maxclients</c>.</summary>
    public string? Name { get; set; }

    /// <summary>Custom plans by name, bound from the <c>Plans</c> section.</summary>
    public Dictionary<string, CustomPlanOptions> Custom { get; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>One custom plan: <c>Plans:&lt;name&gt;:Memory</c> (a redis.conf size, e.g. <c>2gb</c>) and <c>Plans:&lt;name&gt;:Connections</c>.</summary>
internal sealed class CustomPlanOptions
{
    public string? Memory { get; set; }

    public long? Connections { get; set; }
}

internal sealed class PlanOptionsValidator : IValidateOptions<Metrics.PlanOptions>
{
    public ValidateOptionsResult Validate(string? name, Metrics.PlanOptions options)
    {
        var errors = new ConfigErrors();
        foreach (var (planName, plan) in options.Custom)
        {
            var key = $"{Metrics.PlanOptions.CustomSection}:{planName}";
            errors.Require(!Metrics.Plans.BuiltIn.ContainsKey(planName),
                $"{key} has the name of a built-in plan; give the custom plan a name of its own.");
            errors.Require(Metrics.Plans.TryParseSize(plan.Memory, out _),
                $"{key}:Memory must be a size such as 2gb, 512mb or a number of bytes (got '{plan.Memory}').");
            errors.Require(plan.Connections is > 0, $"{key}:Connections must be a number greater than zero (got '{plan.Connections}').");
        }

        if (options.Name is { Length: > 0 } selected && Metrics.Plans.Find(selected, options.Custom) is null && !options.Custom.ContainsKey(selected))
        {
            errors.Require(false,
                $"Plan:Name '{selected}' is neither a built-in plan (mini, premium-0 ... premium-14, private-N, shield-N) nor defined under {Metrics.PlanOptions.CustomSection}.");
        }

        return errors.Result();
    }
}
