using System.Reflection;
using Microsoft.Extensions.Logging;

namespace RedisAgent.Tests.Hosting;

/// <summary>Alerts key on the agent's event ids (docs/events.md): each must mean one thing.</summary>
public sealed class EventIdTests
{
    [Fact]
    public void Every_log_event_has_its_own_id()
    {
        var events = typeof(RedisAgent.Hosting.AgentHost).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(e => e.Attribute is not null)
            .ToList();

        Assert.NotEmpty(events);
        var duplicates = events.GroupBy(e => e.Attribute!.EventId).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(e => e.Method.DeclaringType!.FullName + "." + e.Method.Name))}")
            .ToList();
        Assert.True(duplicates.Count == 0, string.Join("\n", duplicates));
    }

    [Fact]
    public void Every_log_event_of_both_programs_is_in_docs_events()
    {
        // The first cell of each table row: "1605 / 1606", "2001-2023", "1511-1514".
        var listed = new HashSet<int>();
        foreach (var line in File.ReadAllLines(RepositoryFiles.Path("docs/events.md")).Where(l => l.StartsWith("| ", StringComparison.Ordinal)))
        {
            foreach (System.Text.RegularExpressions.Match match in System.Text.RegularExpressions.Regex.Matches(line.Split('|')[1], @"(\d{4})(?:-(\d{4}))?"))
            {
                var first = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                var last = match.Groups[2].Success ? int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) : first;
                listed.UnionWith(Enumerable.Range(first, last - first + 1));
            }
        }

        var logged = new[] { typeof(RedisAgent.Hosting.AgentHost).Assembly, typeof(RedisFailover.Hosting.FailoverHost).Assembly }
            .SelectMany(a => a.GetTypes())
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(e => e.Attribute is not null)
            .ToList();

        Assert.True(logged.Count > 50, logged.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var missing = logged.Where(e => !listed.Contains(e.Attribute!.EventId)).Select(e => $"{e.Attribute!.EventId} ({e.Method.DeclaringType!.FullName}.{e.Method.Name})").ToList();
        Assert.True(missing.Count == 0, "docs/events.md does not list: " + string.Join(", ", missing));
    }
}
