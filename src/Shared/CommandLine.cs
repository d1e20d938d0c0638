using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.EnvironmentVariables;

namespace RedisShared.Hosting;

/// <summary>
/// What a daemon's command line may hold before anything starts: <c>--help</c>, <c>--version</c>,
/// and configuration overrides (<c>--Section:Key=value</c> or <c>--Section:Key value</c>) whose
/// section the program knows. Anything else is a usage error (exit 64, EX_USAGE), so that a
/// mistyped verb or option never starts a daemon (which, as root, would start a Redis too).
/// </summary>
internal static class CommandLine
{
    /// <summary>sysexits.h EX_USAGE.</summary>
    public const int UsageExitCode = ExitCodes.Usage;

    /// <summary>An exit code when the command line is handled here (help, version, a usage error); null to go on and run.</summary>
    /// <param name="sections">Each configuration section (or top-level key) and the type bound from it: an options class,
    /// a list or map of them, <see cref="string"/> for a single value, or null for a section whose keys are free
    /// (<c>Logging</c>, <c>Kestrel</c>). A key that names nothing there (<c>--Probe:Intervl</c>) is a usage error.</param>
    public static int? Preflight(string program, string[] args, IReadOnlyDictionary<string, Type?> sections, string usage, TextWriter output, TextWriter error)
    {
        if (args is ["--help" or "-h" or "help", ..])
        {
            output.WriteLine(usage);
            return 0;
        }

        if (args is ["--version" or "-V" or "version", ..])
        {
            output.WriteLine($"{program} {Version}");
            return 0;
        }

        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                error.WriteLine($"{program}: unknown {(i == 0 ? "verb" : "argument")} '{Printable(arg)}'. See {program} --help.");
                return UsageExitCode;
            }

            var key = arg[2..];
            var equals = key.IndexOf('=', StringComparison.Ordinal);
            var path = (equals >= 0 ? key[..equals] : key).Split(':');
            var section = sections.FirstOrDefault(s => string.Equals(s.Key, path[0], StringComparison.OrdinalIgnoreCase));
            if (section.Key is null || (section.Value is { } type && !Names(type, path.AsSpan(1))))
            {
                error.WriteLine($"{program}: unknown option '{Printable(equals >= 0 ? arg[..(equals + 2)] : arg)}'. Options are configuration keys (--Section:Key=value) of: {string.Join(", ", sections.Keys)}. See {program} --help and docs/.");
                return UsageExitCode;
            }

            if (equals < 0)
            {
                // "--Key --Other=x" would make "--Other=x" the value of Key: a value that starts with
                // "--" is given with '=' (--Exec:Arguments:0=--appendonly).
                if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    error.WriteLine($"{program}: option '{Printable(arg)}' needs a value (--{key}=value). See {program} --help.");
                    return UsageExitCode;
                }

                i++;
            }
        }

        return null;
    }

    /// <summary>
    /// The keys of the merged configuration (the environment, appsettings.json, a configuration
    /// file) that lie in a section the program reads but name nothing there, as one line for a
    /// configuration error; null when there is none. Without it a typo (<c>Probe__Intervall</c>,
    /// <c>Coordinator__Ur1</c>) is ignored in silence and the daemon runs on the default, which for
    /// a coordinator's address means never joining one. Keys outside the program's sections (the
    /// rest of a process's environment) and in free sections (<c>Logging</c>) are not looked at; a
    /// key given an empty value sets nothing and is let be. Values are never quoted.
    /// </summary>
    public static string? UnknownKeys(IConfiguration configuration, IReadOnlyDictionary<string, Type?> sections)
    {
        var unknown = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        var properties = new Dictionary<Type, PropertyInfo[]>();
        foreach (var key in Keys(configuration))
        {
            if (string.IsNullOrEmpty(configuration[key]))
            {
                continue;
            }

            var path = key.Split(':');
            var section = sections.FirstOrDefault(s => string.Equals(s.Key, path[0], StringComparison.OrdinalIgnoreCase));
            if (section.Key is not null && section.Value is { } type && !Names(type, path.AsSpan(1), anyListKey: true, properties))
            {
                unknown.Add($"{Quoted.Printable(key, 80)} (given by {Source(configuration, key)})");
            }
        }

        return unknown.Count == 0
            ? null
            : $"{(unknown.Count == 1 ? "this key is" : "these keys are")} not a setting: {string.Join("; ", unknown)}. A mistyped name would be ignored and its default used; docs/configuration.md lists every key.";
    }

    /// <summary>
    /// Environment variables that give one key of the program's sections under two names (differing
    /// in case, or <c>:</c> for <c>__</c>) and two different values, as one line for a configuration
    /// error; null when there are none. .NET reads the environment in an order that varies from one
    /// start to the next, so which of the two values holds would vary too (a coordinator's token, a
    /// window). The names are given, never the values. A prefix the host also reads (<c>DOTNET_</c>,
    /// <c>ASPNETCORE_</c>) is a source of its own, with a fixed precedence, and is not compared with
    /// the unprefixed name.
    /// </summary>
    public static string? AmbiguousVariables(System.Collections.IDictionary environment, IReadOnlyDictionary<string, Type?> sections)
    {
        var byName = new Dictionary<string, List<(string Name, string Value)>>(StringComparer.OrdinalIgnoreCase);
        foreach (System.Collections.DictionaryEntry entry in environment)
        {
            if (entry.Key is not string name || entry.Value is not string value)
            {
                continue;
            }

            var normalised = name.Replace("__", ":", StringComparison.Ordinal);
            var key = normalised;
            foreach (var prefix in (ReadOnlySpan<string>)["DOTNET_", "ASPNETCORE_"])
            {
                if (key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                {
                    key = key[prefix.Length..];
                    break;
                }
            }

            var section = key.Split(':')[0];
            if (!sections.Keys.Any(s => string.Equals(s, section, StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            if (!byName.TryGetValue(normalised, out var names))
            {
                byName[normalised] = names = [];
            }

            names.Add((name, value));
        }

        var problems = byName.Values
            .Where(names => names.Count > 1 && names.Select(n => n.Value).Distinct(StringComparer.Ordinal).Count() > 1)
            .Select(names => string.Join(" and ", names.Select(n => n.Name).Order(StringComparer.Ordinal).Select(n => $"'{Quoted.Printable(n, 80)}'")))
            .Order(StringComparer.Ordinal)
            .ToList();
        return problems.Count == 0
            ? null
            : $"the environment gives one key under two names with different values: {string.Join("; ", problems)}. Which one is read varies from one start to the next; keep one.";
    }

    /// <summary>
    /// Every key some source of <paramref name="configuration"/> has (a value or null), each once, in
    /// time linear in their number. <c>AsEnumerable()</c> asks every source for the children of every
    /// section, and each answer scans all of that source's keys: for a coordinator of 1,666
    /// resources (5,000 nodes) that was 22 s of a core before it would start, growing with the
    /// square of the fleet. A source that is a <see cref="ConfigurationProvider"/> (files, the
    /// environment, the command line, memory) gives its keys directly; any other is walked through
    /// the public interface, as before.
    /// </summary>
    internal static IEnumerable<string> Keys(IConfiguration configuration)
    {
        var keys = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (configuration is IConfigurationRoot root)
        {
            foreach (var provider in root.Providers)
            {
                Add(provider, keys);
            }
        }
        else
        {
            foreach (var (key, value) in configuration.AsEnumerable())
            {
                if (value is not null)
                {
                    keys.Add(key);
                }
            }
        }

        return keys;

        static void Add(IConfigurationProvider provider, HashSet<string> keys)
        {
            switch (provider)
            {
                case ConfigurationProvider own:
                    keys.UnionWith(DataOf(own).Keys);
                    break;
                case ChainedConfigurationProvider chained:
                    keys.UnionWith(Keys(chained.Configuration));
                    break;
                default:
                    Walk(provider, null, keys);
                    break;
            }
        }

        static void Walk(IConfigurationProvider provider, string? parent, HashSet<string> keys)
        {
            foreach (var child in provider.GetChildKeys([], parent).Distinct(StringComparer.OrdinalIgnoreCase))
            {
                var path = parent is null ? child : ConfigurationPath.Combine(parent, child);
                if (provider.TryGet(path, out var value) && value is not null)
                {
                    keys.Add(path);
                }

                Walk(provider, path, keys);
            }
        }
    }

    /// <summary>A provider's own keys and values (the protected <c>Data</c> every built-in source fills).</summary>
    [System.Runtime.CompilerServices.UnsafeAccessor(System.Runtime.CompilerServices.UnsafeAccessorKind.Method, Name = "get_Data")]
    private static extern IDictionary<string, string?> DataOf(ConfigurationProvider provider);

    /// <summary>Where a key of the merged configuration came from: the last source that has it.</summary>
    private static string Source(IConfiguration configuration, string key)
    {
        if (configuration is IConfigurationRoot root)
        {
            foreach (var provider in root.Providers.Reverse())
            {
                if (provider.TryGet(key, out _))
                {
                    return provider switch
                    {
                        EnvironmentVariablesConfigurationProvider => $"the environment, {Quoted.Printable(EnvironmentVariable(key), 80)}",
                        FileConfigurationProvider file => $"the file '{Quoted.Printable(FilePath(file.Source), 200)}'",
                        CommandLineConfigurationProvider => "the command line",
                        _ => "the configuration",
                    };
                }
            }
        }

        return "the configuration";
    }

    /// <summary>
    /// The variable that gave <paramref name="key"/>: the key's own form (<c>Probe__Intervall</c>), or
    /// the same with a prefix the host also reads (<c>DOTNET_</c>, <c>ASPNETCORE_</c>), the shortest
    /// name first, as the unprefixed one is read last and wins; the operator then finds the name
    /// they set, not one they must guess the prefix of.
    /// </summary>
    private static string EnvironmentVariable(string key)
    {
        var name = key.Replace(":", "__", StringComparison.Ordinal);
        string? found = null;
        foreach (var variable in Environment.GetEnvironmentVariables().Keys.OfType<string>())
        {
            if (variable.EndsWith(name, StringComparison.OrdinalIgnoreCase)
                && (variable.Length == name.Length || variable[variable.Length - name.Length - 1] == '_')
                && (found is null || variable.Length < found.Length))
            {
                found = variable;
            }
        }

        return found ?? name;
    }

    /// <summary>A configuration file's whole path (a source made for an absolute path keeps only its name, under a provider for its folder).</summary>
    private static string FilePath(FileConfigurationSource source) =>
        source.Path is { } path && source.FileProvider?.GetFileInfo(path).PhysicalPath is { } physical ? physical : source.Path ?? "?";

    /// <summary>True when <paramref name="path"/> names a value inside <paramref name="type"/> (properties, list indexes, map keys).</summary>
    /// <param name="anyListKey">Whether a list's item may have any name: the binder adds every child of a list, named or not; the command line asks for an index all the same.</param>
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "Each program roots its options types' public properties with DynamicDependency on its Preflight; an AOT test checks that keys are still recognised.")]
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "As above, for the element types of lists and maps.")]
    private static bool Names(Type type, ReadOnlySpan<string> path, bool anyListKey = false, Dictionary<Type, PropertyInfo[]>? properties = null)
    {
        var leaf = Nullable.GetUnderlyingType(type) ?? type;
        if (leaf.IsPrimitive || leaf.IsEnum || leaf == typeof(string) || leaf == typeof(TimeSpan) || leaf == typeof(decimal))
        {
            return path.Length == 0;
        }

        if (path.Length == 0)
        {
            // A whole object given one value: the binder would ignore it.
            return false;
        }

        if (leaf.IsGenericType && leaf.GetGenericTypeDefinition() == typeof(List<>))
        {
            return (anyListKey || int.TryParse(path[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _))
                && Names(leaf.GetGenericArguments()[0], path[1..], anyListKey, properties);
        }

        if (leaf.IsGenericType && leaf.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            return Names(leaf.GetGenericArguments()[1], path[1..], anyListKey, properties);
        }

        var name = path[0];
        PropertyInfo[]? all = null;
        if (properties is null || !properties.TryGetValue(leaf, out all))
        {
            all = leaf.GetProperties(BindingFlags.Public | BindingFlags.Instance);
            properties?.Add(leaf, all);
        }

        var property = Array.Find(all, p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase) && (p.CanWrite || p.PropertyType.IsGenericType));
        return property is not null && Names(property.PropertyType, path[1..], anyListKey, properties);
    }

    public static string Version =>
        typeof(CommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(CommandLine).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    /// <summary>An argument as it may appear in an error line (it is never a secret: values are not echoed).</summary>
    private static string Printable(string value) => Quoted.Printable(value, 60);
}
