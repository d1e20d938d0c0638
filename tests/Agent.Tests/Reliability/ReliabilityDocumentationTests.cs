using System.Reflection;
using System.Text.RegularExpressions;

namespace RedisAgent.Tests.Reliability;

/// <summary>
/// docs/reliability.md promises behaviours and names the test (or the code) that keeps each: every
/// name in its "tested by" column must exist, so that a renamed or deleted test cannot leave a
/// promise with nothing behind it.
/// </summary>
public sealed partial class ReliabilityDocumentationTests
{
    private static readonly Assembly[] Assemblies =
        [typeof(ReliabilityDocumentationTests).Assembly, typeof(RedisAgent.Hosting.AgentHost).Assembly, typeof(RedisFailover.Hosting.FailoverHost).Assembly];

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
                var found = Assemblies.SelectMany(a => a.GetTypes()).Where(t => t.Name == type).ToList();
                if (found.Count == 0)
                {
                    missing.Add($"{type} (no such type)");
                }
                else if (member.Length > 0 && !found.Any(t => t.GetMember(member, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static).Length > 0))
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
