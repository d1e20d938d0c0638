using System.Globalization;
using RedisFailover.Store;

namespace RedisFailover.Coordination;

/// <summary>
/// Which value is in force when the configuration and the store disagree: the last change wins,
/// wherever it was made. The record keeps what the configuration said when it was written; a value
/// the configuration has changed since is taken from the configuration (and journalled), one it has
/// not is kept from the store (and a differing configuration is warned about, never silently
/// ignored). Either way each value carries its origin, which <c>info</c> shows.
/// </summary>
internal static class DesiredState
{
    /// <summary>The values in force, their origins, and what to say about them.</summary>
    /// <param name="Taken">Values the configuration changed since the record was written, now in force: journalled.</param>
    /// <param name="Overridden">Values the configuration gives that an operator's command has since replaced: warned at start.</param>
    internal sealed record Resolved(
        IReadOnlyList<NodeSpec> Nodes,
        ResourceSettings Settings,
        ValueOrigins Origins,
        IReadOnlyList<string> Taken,
        IReadOnlyList<string> Overridden);

    /// <param name="index">The resource's place in the configuration, for the keys named in origins.</param>
    public static Resolved Resolve(ResourceRecord record, ConfiguredValues configured, int index)
    {
        var taken = new List<string>();
        var overridden = new List<string>();
        var key = string.Create(CultureInfo.InvariantCulture, $"Resources:{index}");

        // Before 0.3 a record had no origins: taken as written under today's configuration, so its
        // settings are kept over the configuration's, as they were then (and now warned about).
        var was = record.Configured ?? configured;
        var origins = record.Origins ?? new ValueOrigins(
            null,
            record.TimeoutSeconds is null ? null : "the store (set before origins were recorded)",
            record.MaxMemoryPolicy is null ? null : "the store (set before origins were recorded)");

        IReadOnlyList<NodeRecord> nodes = configured.Nodes;
        var nodesOrigin = $"configuration ({key}:Nodes)";
        if (record.Nodes is { Length: > 0 } stored)
        {
            if (!SameNodes(was.Nodes, configured.Nodes))
            {
                // The configuration's list changed since the record was written: it is the later word.
                if (!SameNodes(stored, configured.Nodes))
                {
                    taken.Add($"nodes: {key}:Nodes changed since the nodes were last set ({origins.Nodes ?? "unknown"}); the configuration's are in force: {Describe(configured.Nodes)} (were {Describe(stored)})");
                }
            }
            else
            {
                nodes = stored;
                nodesOrigin = origins.Nodes ?? nodesOrigin;
                if (!SameNodes(stored, configured.Nodes))
                {
                    overridden.Add($"{key}:Nodes lists {Describe(configured.Nodes)}, but the nodes were changed later ({nodesOrigin}) to {Describe(stored)}, which are in force; change them with redis-failover nodes add|remove, or change {key}:Nodes to make the configuration's list the one in force");
                }
            }
        }

        var (timeout, timeoutOrigin) = Setting(
            record.TimeoutSeconds, was.TimeoutSeconds, configured.TimeoutSeconds, origins.Timeout, $"{key}:Timeout", "timeout", v => string.Create(CultureInfo.InvariantCulture, $"{v} s"), taken, overridden);
        var (policy, policyOrigin) = Setting(
            record.MaxMemoryPolicy, was.MaxMemoryPolicy, configured.MaxMemoryPolicy, origins.MaxMemoryPolicy, $"{key}:MaxmemoryPolicy", "maxmemory-policy", v => v, taken, overridden);

        return new Resolved(
            [.. nodes.Select(n => new NodeSpec(n.Name, n.Address, n.Zone))],
            new ResourceSettings(timeout, policy),
            new ValueOrigins(nodesOrigin, timeoutOrigin, policyOrigin),
            taken,
            overridden);
    }

    private static (T? Value, string? Origin) Setting<T>(
        T? stored, T? configuredThen, T? configuredNow, string? storedOrigin, string key, string name, Func<T, string> show, List<string> taken, List<string> overridden)
    {
        if (stored is null)
        {
            return (configuredNow, configuredNow is null ? null : $"configuration ({key})");
        }

        if (configuredNow is not null && !EqualityComparer<T>.Default.Equals(configuredNow, configuredThen))
        {
            // The configuration changed since the store's value was written: it is the later word.
            if (!EqualityComparer<T>.Default.Equals(configuredNow, stored))
            {
                taken.Add($"{name}: {key} changed to {show(configuredNow)} since {show(stored)} was set ({storedOrigin ?? "unknown"}); the configuration's value is in force");
            }

            return (configuredNow, $"configuration ({key})");
        }

        if (configuredNow is not null && !EqualityComparer<T>.Default.Equals(configuredNow, stored))
        {
            overridden.Add($"{key} is {show(configuredNow)}, but {name} {show(stored)} was set later ({storedOrigin ?? "unknown"}) and is in force; set it again with redis-failover, or change {key} to make the configuration's value the one in force");
        }

        return (stored, storedOrigin ?? (configuredNow is not null ? $"configuration ({key})" : "the store"));
    }

    /// <summary>What the configuration says of a resource, as the record keeps it.</summary>
    public static ConfiguredValues Configured(Hosting.ResourceOptions resource) => new(
        [.. resource.Nodes.Select(n => new NodeRecord(n.Name!, n.Address!, n.Zone)).OrderBy(n => n.Name, StringComparer.Ordinal)],
        resource.Timeout,
        resource.MaxmemoryPolicy);

    /// <summary>The same nodes, in any order.</summary>
    public static bool SameNodes(IReadOnlyList<NodeRecord> a, IReadOnlyList<NodeRecord> b) =>
        a.Count == b.Count && a.OrderBy(n => n.Name, StringComparer.Ordinal).SequenceEqual(b.OrderBy(n => n.Name, StringComparer.Ordinal));

    public static string Describe(IEnumerable<NodeRecord> nodes) => string.Join(", ", nodes.Select(n => $"{n.Name} {n.Address}"));
}
