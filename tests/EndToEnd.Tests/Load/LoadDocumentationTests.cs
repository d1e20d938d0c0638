using System.Text.RegularExpressions;

namespace RedisAgent.Tests.Load;

/// <summary>
/// load/ is one program (redis-load): the scenario suite and the benchmarks by name. Its README and
/// docs/benchmarks.md name every benchmark the program has, and name none it does not.
/// </summary>
public sealed partial class LoadDocumentationTests
{
    [Fact]
    public void Every_benchmark_is_in_the_load_readme_and_has_a_command_in_the_benchmarks_page()
    {
        var benchmarks = BenchmarkNames();
        Assert.True(benchmarks.Count >= 8, $"found only {benchmarks.Count} benchmarks in load/Scenarios/Benchmarks");
        var readme = File.ReadAllText(RepositoryFiles.Path("load/README.md"));
        var page = File.ReadAllText(RepositoryFiles.Path("docs/benchmarks.md"));
        foreach (var name in benchmarks)
        {
            Assert.True(readme.Contains($"| `{name}` |", StringComparison.Ordinal), $"load/README.md has no row for the benchmark {name}");
            Assert.True(page.Contains($"load/run {name} ", StringComparison.Ordinal) || page.Contains($"load/run {name}\n", StringComparison.Ordinal),
                $"docs/benchmarks.md gives no command for the benchmark {name}");
        }
    }

    [Fact]
    public void Every_load_command_in_the_docs_names_something_redis_load_runs()
    {
        var known = BenchmarkNames().Concat(["sizing", "benchmarks"]).ToHashSet(StringComparer.Ordinal);
        var pages = new[] { "load/README.md", "docs/benchmarks.md", "docs/architecture.md", "docs/coordinator.md", "README.md" };
        foreach (var page in pages)
        {
            foreach (Match command in LoadCommand().Matches(File.ReadAllText(RepositoryFiles.Path(page))))
            {
                var verb = command.Groups[1].Value;
                Assert.True(known.Contains(verb), $"{page} runs 'load/run {verb}', which redis-load does not know");
            }

            foreach (Match folder in LoadFolder().Matches(File.ReadAllText(RepositoryFiles.Path(page))))
            {
                Assert.True(Directory.Exists(RepositoryFiles.Path(folder.Value)), $"{page} points at {folder.Value}, which is not in the repository");
            }
        }

        // The standalone programs of the first generation are gone, and nothing points at them.
        foreach (var directory in Directory.GetDirectories(RepositoryFiles.Path("load")))
        {
            var name = Path.GetFileName(directory);
            Assert.Contains(name, new[] { "Harness", "Scenarios", "results" });
        }
    }

    private static List<string> BenchmarkNames() =>
        [.. Directory.GetFiles(RepositoryFiles.Path("load/Scenarios/Benchmarks"), "*.cs")
            .Select(f => BenchmarkName().Match(File.ReadAllText(f)))
            .Where(m => m.Success)
            .Select(m => m.Groups[1].Value)];

    [GeneratedRegex("""public const string Name = "([a-z-]+)";""")]
    private static partial Regex BenchmarkName();

    [GeneratedRegex(@"load/[A-Z][A-Za-z]*(?![A-Za-z.])")]
    private static partial Regex LoadFolder();

    [GeneratedRegex(@"load/run ([a-z][a-z-]*)")]
    private static partial Regex LoadCommand();
}
