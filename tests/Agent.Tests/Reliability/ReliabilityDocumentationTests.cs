using System.Text.RegularExpressions;

namespace RedisAgent.Tests.Reliability;

/// <summary>
/// docs/reliability.md promises behaviours and names the test (or the code) that keeps each: every
/// name in its "tested by" column must exist, so that a renamed or deleted test cannot leave a
/// promise with nothing behind it. The names are looked for in the sources (src/ and the three test
/// projects under tests/): a type declared there, and the member declared in its file.
/// </summary>
public sealed partial class ReliabilityDocumentationTests
{
    private static readonly Lazy<List<string>> Sources = new(() =>
        [.. new[] { "src", "tests" }
            .SelectMany(d => Directory.EnumerateFiles(RepositoryFiles.Path(d), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains("/bin/", StringComparison.Ordinal) && !f.Contains("/obj/", StringComparison.Ordinal))
            .Select(File.ReadAllText)]);

    /// <summary>The documents whose tables promise behaviours: the file, the heading its table is under, its header row, and how many rows it has at least.</summary>
    [Theory]
    [InlineData("docs/reliability.md", "", "| fault", 30)]
    [InlineData("docs/security.md", "## What is defended", "| attack", 12)]
    public void Every_test_and_member_the_document_names_exists(string document, string heading, string header, int atLeast)
    {
        var lines = File.ReadAllLines(RepositoryFiles.Path(document));
        var from = heading.Length == 0 ? 0 : Array.IndexOf(lines, lines.First(l => l.StartsWith(heading, StringComparison.Ordinal)));
        var rows = lines.Skip(from)
            .TakeWhile((l, i) => i == 0 || heading.Length == 0 || !l.StartsWith("## ", StringComparison.Ordinal))
            .Where(l => l.StartsWith('|') && !l.StartsWith("|---", StringComparison.Ordinal) && !l.StartsWith(header, StringComparison.Ordinal))
            .ToList();
        Assert.True(rows.Count >= atLeast, $"only {rows.Count} rows");

        var missing = new List<string>();
        var named = 0;
        foreach (var row in rows)
        {
            var testedBy = row.TrimEnd('|').Split('|')[^1];
            foreach (Match reference in Reference().Matches(testedBy))
            {
                named++;
                var (type, member) = (reference.Groups["type"].Value, reference.Groups["member"].Value);
                var declaring = new Regex($@"\b(class|record|struct|interface|enum) {Regex.Escape(type)}\b");
                var found = Sources.Value.Where(source => declaring.IsMatch(source)).ToList();
                if (found.Count == 0)
                {
                    missing.Add($"{type} (no such type)");
                }
                else if (member.Length > 0 && !found.Any(source => Regex.IsMatch(source, $@"\b{Regex.Escape(member)}\b\s*[(<{{=;]")))
                {
                    missing.Add($"{type}.{member}");
                }
            }
        }

        Assert.True(named >= atLeast, $"only {named} names in the tested-by column");
        Assert.True(missing.Count == 0, $"{document} names what does not exist:\n" + string.Join('\n', missing));
    }

    [GeneratedRegex(@"`(?<type>[A-Z][A-Za-z0-9]+)(?:\.(?<member>[A-Za-z_][A-Za-z0-9_]*))?`")]
    private static partial Regex Reference();
}
