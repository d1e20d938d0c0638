namespace RedisAgent.Tests.Hosting;

/// <summary>docs/configuration.md names every key both programs read, so that a key added to the code cannot go undocumented.</summary>
public sealed class ConfigurationDocumentationTests
{
    [Fact]
    public void Every_configuration_key_of_both_programs_is_in_docs_configuration()
    {
        var page = File.ReadAllText(RepositoryFiles.Path("docs/configuration.md"));
        var keys = Reliability.OptionKeys.All(typeof(RedisAgent.Hosting.AgentHost).Assembly)
            .Concat(Reliability.OptionKeys.All(typeof(RedisFailover.Hosting.FailoverHost).Assembly))
            .Select(k => k.Key)
            .Distinct()
            .ToList();

        Assert.True(keys.Count > 40, keys.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var missing = keys.Where(k => !page.Contains("`" + k, StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, "docs/configuration.md does not name: " + string.Join(", ", missing));
    }

    /// <summary>Both programs share one set of exit codes (src/Shared/ExitCodes.cs, compiled into each), each listed on the page with its number.</summary>
    [Fact]
    public void Every_exit_code_is_in_docs_configuration()
    {
        var page = File.ReadAllText(RepositoryFiles.Path("docs/configuration.md"));
        var codes = typeof(RedisAgent.Hosting.AgentHost).Assembly.GetType("RedisShared.Hosting.ExitCodes")!
            .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!);

        Assert.Equal(6, codes.Count);
        Assert.All(codes, code => Assert.Contains($"| `{code.Value}` | `{code.Key}`", page, StringComparison.Ordinal));
    }
}
