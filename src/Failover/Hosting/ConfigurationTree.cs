using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace RedisFailover.Hosting;

/// <summary>
/// One section of the merged configuration, read once into a tree: what the binder reads of a
/// large list (a fleet's <c>Resources</c>) in time linear in its keys. The configuration root
/// answers every section's <c>GetChildren()</c> by scanning every key of every source, so binding
/// the resources one by one grew with the square of the fleet: 3,332 resources took 20.8 s of a
/// core before the coordinator would start (NativeAOT), 11.2 s with the JIT. The values are the merged ones (the last source wins),
/// the paths the full keys, so a binder's error names the key as before. A snapshot: read-only,
/// never reloaded (the programs read their configuration once, at start).
/// </summary>
internal sealed class ConfigurationTree : IConfigurationSection
{
    private static readonly IChangeToken Never = new CancellationChangeToken(CancellationToken.None);
    private readonly Dictionary<string, ConfigurationTree> _children = new(StringComparer.OrdinalIgnoreCase);
    private IConfigurationSection[]? _ordered;

    private readonly string? _value;

    private ConfigurationTree(string path, string? value)
    {
        Path = path;
        _value = value;
    }

    /// <summary>The section at <paramref name="section"/> of <paramref name="configuration"/>, whole.</summary>
    public static ConfigurationTree Read(IConfiguration configuration, string section)
    {
        var root = new ConfigurationTree(section, configuration[section]);
        var prefix = section + ConfigurationPath.KeyDelimiter;
        foreach (var key in RedisShared.Hosting.CommandLine.Keys(configuration))
        {
            if (!key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var node = root;
            var start = prefix.Length;
            while (start <= key.Length)
            {
                var end = key.IndexOf(ConfigurationPath.KeyDelimiter, start, StringComparison.Ordinal);
                if (end < 0)
                {
                    end = key.Length;
                }

                var name = key[start..end];
                if (!node._children.TryGetValue(name, out var child))
                {
                    var path = key[..end];
                    child = new ConfigurationTree(path, configuration[path]);
                    node._children.Add(name, child);
                    node._ordered = null;
                }

                node = child;
                start = end + 1;
            }
        }

        return root;
    }

    public string Key => ConfigurationPath.GetSectionKey(Path);

    public string Path { get; }

    public string? Value
    {
        get => _value;
        set => throw new NotSupportedException("a configuration snapshot is read-only");
    }

    public string? this[string key]
    {
        get => GetSection(key).Value;
        set => throw new NotSupportedException("a configuration snapshot is read-only");
    }

    public IConfigurationSection GetSection(string key)
    {
        var node = this;
        foreach (var name in key.Split(ConfigurationPath.KeyDelimiter))
        {
            if (!node._children.TryGetValue(name, out var child))
            {
                // As the root does: a section that is not there is an empty one at that path.
                return new ConfigurationTree(ConfigurationPath.Combine(Path, key), null);
            }

            node = child;
        }

        return node;
    }

    /// <summary>The children in the root's order (numbers as numbers: a list's items in their order).</summary>
    public IEnumerable<IConfigurationSection> GetChildren() =>
        _ordered ??= [.. _children.Values.OrderBy(c => c.Key, ConfigurationKeyComparer.Instance)];

    public IChangeToken GetReloadToken() => Never;
}
