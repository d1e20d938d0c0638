using System.Reflection;

namespace RedisAgent.Tests.Architecture;

/// <summary>
/// The agent's folders (one namespace each) may depend only downwards, as docs/architecture.md
/// draws them: a type's signature (its base type, fields, properties, constructor and method
/// parameters and returns) may name a type of a lower folder, never of a higher one.
/// </summary>
public sealed class FolderDependencyTests
{
    [Fact]
    public void The_agents_folders_depend_on_each_other_exactly_as_docs_dependencies_dot_draws_them()
    {
        var graph = Graph(typeof(RedisAgent.Hosting.AgentHost).Assembly, "RedisAgent.");
        var actual = graph.SelectMany(g => g.Value.Keys.Select(to => $"{g.Key} -> {to}")).Order(StringComparer.Ordinal).ToList();
        var drawn = File.ReadAllLines(RepositoryFiles.Path("docs/dependencies.dot"))
            .Select(l => l.Trim())
            .Where(l => l.Contains(" -> ", StringComparison.Ordinal))
            .Select(l => l.Split('[')[0].TrimEnd(';', ' ').Replace("\"", "", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();

        var added = actual.Except(drawn).Select(e => $"{e}   ({string.Join(", ", graph[e.Split(" -> ")[0]][e.Split(" -> ")[1]].Take(3))})").ToList();
        var gone = drawn.Except(actual).ToList();
        Assert.True(added.Count == 0 && gone.Count == 0,
            $"The folders' dependencies changed. A folder may import only what docs/dependencies.dot allows; if the change is right, redraw it (scripts/figures).\n" +
            $"new: {string.Join("; ", added)}\ngone: {string.Join("; ", gone)}");
    }

    [Fact]
    public void The_agents_folders_have_no_cycle()
    {
        var graph = Graph(typeof(RedisAgent.Hosting.AgentHost).Assembly, "RedisAgent.");
        var state = new Dictionary<string, int>(StringComparer.Ordinal);
        var path = new List<string>();

        // Depth first: a folder met again while still on the path closes a cycle.
        List<string>? Visit(string folder)
        {
            state[folder] = 1;
            path.Add(folder);
            foreach (var next in graph.GetValueOrDefault(folder)?.Keys ?? Enumerable.Empty<string>())
            {
                if (state.GetValueOrDefault(next) == 1)
                {
                    return [.. path[path.IndexOf(next)..], next];
                }

                if (state.GetValueOrDefault(next) == 0 && Visit(next) is { } cycle)
                {
                    return cycle;
                }
            }

            path.RemoveAt(path.Count - 1);
            state[folder] = 2;
            return null;
        }

        foreach (var folder in graph.Keys.Order(StringComparer.Ordinal))
        {
            if (state.GetValueOrDefault(folder) == 0 && Visit(folder) is { } cycle)
            {
                Assert.Fail($"The folders import each other in a cycle: {string.Join(" -> ", cycle)} ({string.Join("; ", cycle.Zip(cycle.Skip(1)).Select(e => $"{e.First} -> {e.Second}: {string.Join(", ", graph[e.First][e.Second].Take(3))}"))})");
            }
        }
    }

    [Fact]
    public void Hosting_is_the_root_and_the_connection_a_leaf()
    {
        var graph = Graph(typeof(RedisAgent.Hosting.AgentHost).Assembly, "RedisAgent.");

        // The composition root: nothing depends on it.
        Assert.DoesNotContain(graph, g => g.Value.ContainsKey("Hosting"));
        // The node's address, TLS trust and connection: it depends on no other folder.
        Assert.False(graph.ContainsKey("Connection"), string.Join(", ", graph.GetValueOrDefault("Connection")?.Keys.ToList() ?? []));
    }

    internal static Dictionary<string, Dictionary<string, HashSet<string>>> Graph(Assembly assembly, string prefix)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var graph = new Dictionary<string, Dictionary<string, HashSet<string>>>(StringComparer.Ordinal);
        foreach (var type in assembly.GetTypes().Where(t => t.Namespace?.StartsWith(prefix, StringComparison.Ordinal) == true && !t.Name.StartsWith('<')))
        {
            var from = Folder(type.Namespace!, prefix);
            var used = new List<Type?> { type.BaseType };
            used.AddRange(type.GetInterfaces());
            used.AddRange(type.GetFields(all).Select(f => f.FieldType));
            used.AddRange(type.GetProperties(all).Select(p => p.PropertyType));
            foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                used.AddRange(method.GetParameters().Select(p => p.ParameterType));
                if (method is MethodInfo info)
                {
                    used.Add(info.ReturnType);
                }
            }

            foreach (var target in used.Where(t => t is not null).SelectMany(t => Expand(t!)))
            {
                if (target.Namespace?.StartsWith(prefix, StringComparison.Ordinal) == true && target.Assembly == assembly)
                {
                    var to = Folder(target.Namespace, prefix);
                    if (to != from)
                    {
                        if (!graph.TryGetValue(from, out var edges))
                        {
                            graph[from] = edges = new(StringComparer.Ordinal);
                        }

                        if (!edges.TryGetValue(to, out var why))
                        {
                            edges[to] = why = new(StringComparer.Ordinal);
                        }

                        why.Add($"{type.Name}→{target.Name}");
                    }
                }
            }
        }

        return graph;
    }

    private static IEnumerable<Type> Expand(Type type)
    {
        if (type.HasElementType)
        {
            return Expand(type.GetElementType()!);
        }

        return type.IsGenericType ? type.GetGenericArguments().SelectMany(Expand).Prepend(type) : [type];
    }

    private static string Folder(string ns, string prefix) => ns[prefix.Length..].Split('.')[0];
}
