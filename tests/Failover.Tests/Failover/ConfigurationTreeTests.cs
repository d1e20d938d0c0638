using Microsoft.Extensions.Configuration;
using RedisAgent.Testing;
using RedisFailover.Hosting;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// A fleet's resources are bound from a tree read once from the configuration (the root answers each
/// section by scanning every key, which made a coordinator of 5,000 nodes take 22 s to start). The
/// tree must bind exactly what the root binds: merged values, list order, full paths in errors.
/// </summary>
public sealed class ConfigurationTreeTests
{
    [Fact]
    public void Resources_bound_from_the_tree_are_those_bound_from_the_configuration()
    {
        using var directory = new TempDirectory("config-tree");
        var file = Path.Combine(directory.Path, "coordinator.json");
        // Twelve resources: the tree must order 10 and 11 after 9, as the root does.
        var resources = string.Join(", ", Enumerable.Range(0, 12).Select(r =>
            $$"""{ "Name": "r{{r}}", "Timeout": {{r}}, "MaxmemoryPolicy": "allkeys-lru", "Nodes": [ { "Name": "r{{r}}a", "Address": "127.0.0.1:{{7000 + r}}", "Zone": "z1" }, { "Name": "r{{r}}b", "Address": "127.0.0.2:{{7000 + r}}" } ] }"""));
        File.WriteAllText(file, $$"""{ "Resources": [ {{resources}} ] }""");
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(file)
            // A later source wins, in any case of the key, and may add a node.
            .AddInMemoryCollection(new Dictionary<string, string?> { ["resources:3:NODES:1:address"] = "127.0.0.9:9", ["Resources:5:Nodes:2:Name"] = "r5c", ["Resources:5:Nodes:2:Address"] = "127.0.0.3:7005" })
            .Build();

        var fromTree = Bind(ConfigurationTree.Read(configuration, ResourcesOptions.Section).GetChildren());
        var fromRoot = Bind(configuration.GetSection(ResourcesOptions.Section).GetChildren());

        Assert.Equal(12, fromTree.Count);
        Assert.Equal(Describe(fromRoot), Describe(fromTree));
        Assert.Equal(Enumerable.Range(0, 12).Select(r => $"r{r}"), fromTree.Select(r => r.Name));
        Assert.Equal("127.0.0.9:9", fromTree[3].Nodes[1].Address);
        Assert.Equal(3, fromTree[5].Nodes.Count);
    }

    [Fact]
    public void A_bad_value_is_named_by_its_whole_key_and_a_missing_section_is_empty()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Resources:0:Name"] = "cache", ["Resources:0:Timeout"] = "abc" })
            .Build();
        var tree = ConfigurationTree.Read(configuration, ResourcesOptions.Section);

        var error = Assert.Throws<InvalidOperationException>(() => tree.GetChildren().Single().Bind(new ResourceOptions()));
        Assert.Contains("'Resources:0:Timeout'", error.Message, StringComparison.Ordinal);

        var missing = tree.GetSection("7:Nodes");
        Assert.Equal("Resources:7:Nodes", missing.Path);
        Assert.Null(missing.Value);
        Assert.Empty(missing.GetChildren());
        Assert.Equal("cache", tree["0:Name"]);
        Assert.Throws<NotSupportedException>(() => tree["0:Name"] = "other");
    }

    private static List<ResourceOptions> Bind(IEnumerable<IConfigurationSection> sections) =>
        [.. sections.Select(section =>
        {
            var resource = new ResourceOptions();
            section.Bind(resource);
            return resource;
        })];

    private static string Describe(IEnumerable<ResourceOptions> resources) =>
        string.Join("\n", resources.Select(r => $"{r.Name} {r.Timeout} {r.MaxmemoryPolicy} " + string.Join(" ", r.Nodes.Select(n => $"{n.Name}@{n.Address}/{n.Zone}"))));
}
