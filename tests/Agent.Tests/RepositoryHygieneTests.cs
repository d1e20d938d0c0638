using System.Text.RegularExpressions;

namespace RedisAgent.Tests;

/// <summary>What rots unnoticed in a repository: a package version nobody uses, a reference to a page that is gone.</summary>
public sealed partial class RepositoryHygieneTests
{
    [Fact]
    public void Every_central_package_version_is_referenced_by_a_project()
    {
        var versions = PackageVersion().Matches(File.ReadAllText(RepositoryFiles.Path("Directory.Packages.props"))).Select(m => m.Groups[1].Value).ToList();
        var references = ProjectFiles()
            .SelectMany(f => PackageReference().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);

        Assert.NotEmpty(versions);
        Assert.DoesNotContain(versions, v => !references.Contains(v));
    }

    [Fact]
    public void Every_docs_page_the_repository_names_exists()
    {
        var named = Directory.EnumerateFiles(RepositoryFiles.Root, "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/bin/", StringComparison.Ordinal) && !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/.git/", StringComparison.Ordinal)
                && !f.Contains("/artifacts/", StringComparison.Ordinal) && !f.Contains("/load/results/", StringComparison.Ordinal))
            .Where(f => Path.GetExtension(f) is ".cs" or ".md" or ".props" or ".csproj" or ".service" or ".env" or "" && new FileInfo(f).Length < 1_000_000)
            .SelectMany(f => DocsPage().Matches(File.ReadAllText(f)).Select(m => (File: Path.GetRelativePath(RepositoryFiles.Root, f), Page: m.Value)))
            .ToList();

        Assert.NotEmpty(named);
        var missing = named.Where(n => !File.Exists(RepositoryFiles.Path(n.Page))).Select(n => $"{n.File} names {n.Page}").ToList();
        Assert.True(missing.Count == 0, string.Join("\n", missing));
    }

    private static IEnumerable<string> ProjectFiles() =>
        Directory.EnumerateFiles(RepositoryFiles.Root, "*.*proj", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(RepositoryFiles.Root, "Directory.Build.props", SearchOption.AllDirectories))
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal));

    [GeneratedRegex("<PackageVersion Include=\"([^\"]+)\"")]
    private static partial Regex PackageVersion();

    [GeneratedRegex("<PackageReference Include=\"([^\"]+)\"")]
    private static partial Regex PackageReference();

    [GeneratedRegex(@"(?<![\w/])docs/[A-Za-z0-9_-]+\.md")]
    private static partial Regex DocsPage();
}
