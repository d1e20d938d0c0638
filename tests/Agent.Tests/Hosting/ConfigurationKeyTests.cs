extern alias agent;
using Microsoft.Extensions.Configuration;
using RedisAgent.Hosting;
using RedisAgent.Testing;
using RedisFailover.Hosting;
using RedisAgent.Tests.Reliability;

namespace RedisAgent.Tests.Hosting;

/// <summary>
/// The merged configuration's keys against the settings the programs have: a key in one of their
/// sections that names nothing is refused (a typo would otherwise be ignored and its default used);
/// the rest of the configuration is let be.
/// </summary>
public sealed class ConfigurationKeyTests
{
    [Fact]
    public void Real_keys_of_every_shape_pass()
    {
        var configuration = Configuration(new()
        {
            ["REDIS_URL"] = "redis://127.0.0.1:6379",
            ["Probe:Interval"] = "00:00:02",
            ["probe:retryinterval"] = "00:00:01",
            ["Logs:Syslog:Url"] = "tcp://127.0.0.1:514",
            ["Exec:Arguments:0"] = "--port",
            // The binder adds every child of a list, named or not.
            ["Peers:db2:Name"] = "db2",
            ["Peers:0:Ssh:Host"] = "127.0.0.2",
            ["Plans:big:Memory"] = "1073741824",
            ["Logging:LogLevel:Anything.At.All"] = "Debug",
            ["Kestrel:Limits:MaxConcurrentConnections"] = "10",
            // Not the agent's: the rest of a process's environment.
            ["PATH"] = "/usr/bin",
            ["SOMETHING:ELSE"] = "1",
            // Empty: sets nothing.
            ["Probe:Intervall"] = "",
        });

        Assert.Null(AgentHost.UnknownKeys(configuration));
    }

    [Fact]
    public void Every_documented_key_passes()
    {
        var agent = Configuration(OptionKeys.All(typeof(AgentHost).Assembly).ToDictionary(k => k.Key, _ => (string?)"1"));
        var failover = Configuration(OptionKeys.All(typeof(FailoverHost).Assembly).ToDictionary(k => k.Key, _ => (string?)"1"));

        Assert.Null(AgentHost.UnknownKeys(agent));
        Assert.Null(FailoverHost.UnknownKeys(failover));
    }

    [Fact]
    public void A_mistyped_key_is_named_with_its_file_and_no_value()
    {
        using var directory = new TempDirectory("config-keys");
        var file = Path.Combine(directory.Path, "agent.json");
        File.WriteAllText(file, """{ "Coordinator": { "Ur1": "http://127.0.0.1:9380", "Token": "s3cret-token-value" }, "Sampling": { "Interval": "00:00:05" } }""");
        var configuration = new ConfigurationBuilder().AddJsonFile(file).Build();

        var problem = AgentHost.UnknownKeys(configuration);

        Assert.NotNull(problem);
        Assert.Contains($"Coordinator:Ur1 (given by the file '{file}')", problem, StringComparison.Ordinal);
        Assert.DoesNotContain("Sampling", problem, StringComparison.Ordinal);
        Assert.DoesNotContain("Token", problem, StringComparison.Ordinal);
        Assert.DoesNotContain("9380", problem, StringComparison.Ordinal);
    }

    /// <summary>
    /// Two variables that name one key (case, or ':' for '__') with different values: .NET reads the
    /// environment in an order that varies per process, so the value the program runs on would too.
    /// </summary>
    [Fact]
    public void Two_variables_that_name_one_key_with_different_values_are_refused_by_name_only()
    {
        var environment = new System.Collections.Hashtable
        {
            ["Coordinator__Token"] = "first-secret-value",
            ["COORDINATOR__TOKEN"] = "second-secret-value",
            ["Probe:Interval"] = "00:00:02",
            ["probe__interval"] = "00:00:05",
            // The same value twice: whichever is read, the program runs alike.
            ["Sampling__Interval"] = "00:00:01",
            ["SAMPLING__INTERVAL"] = "00:00:01",
            // A prefix the host reads is its own source, with a fixed precedence.
            ["DOTNET_Logs__Url"] = "tcp://127.0.0.1:514",
            ["Logs__Url"] = "tcp://127.0.0.1:515",
            // Not the agent's.
            ["Path"] = "/a",
            ["PATH"] = "/b",
        };

        var problem = agent::RedisShared.Hosting.CommandLine.AmbiguousVariables(environment, AgentHost.ConfigurationSections);

        Assert.Equal(
            "the environment gives one key under two names with different values: 'COORDINATOR__TOKEN' and 'Coordinator__Token'; 'Probe:Interval' and 'probe__interval'. Which one is read varies from one start to the next; keep one.",
            problem);
        Assert.Null(agent::RedisShared.Hosting.CommandLine.AmbiguousVariables(new System.Collections.Hashtable { ["Coordinator__Token"] = "x", ["Probe__Interval"] = "00:00:02" }, AgentHost.ConfigurationSections));
    }

    [Fact]
    public void Every_unknown_key_is_named_once_and_a_value_given_to_a_section_is_one()
    {
        var configuration = Configuration(new()
        {
            ["Probe:Intervall"] = "5",
            ["Plans:big:Memoryy"] = "1",
            ["Peers:0:Ssh:Adress"] = "127.0.0.2",
            // A value for a whole section binds nothing.
            ["Probe"] = "5",
            ["Resources:0:Name"] = "cache",
        });

        var problem = AgentHost.UnknownKeys(configuration);

        Assert.NotNull(problem);
        Assert.StartsWith("these keys are not a setting: ", problem, StringComparison.Ordinal);
        foreach (var key in new[] { "Probe:Intervall", "Plans:big:Memoryy", "Peers:0:Ssh:Adress", "Probe (" })
        {
            Assert.Contains(key, problem, StringComparison.Ordinal);
        }

        // The coordinator's sections are not the agent's.
        Assert.DoesNotContain("Resources", problem, StringComparison.Ordinal);
    }

    /// <summary>
    /// The keys are read from each source at once (the merged configuration's own walk scans every key
    /// for each section, the square of a fleet's keys): the same keys as that walk, from every kind of
    /// source, a chained one included, each once whatever its case or however many sources give it.
    /// </summary>
    [Fact]
    public void The_keys_read_from_each_source_are_those_of_the_merged_configuration()
    {
        using var directory = new TempDirectory("config-keys-read");
        var file = Path.Combine(directory.Path, "coordinator.json");
        File.WriteAllText(file, """{ "Failover": { "Window": "00:00:10", "Empty": {} }, "Resources": [ { "Name": "a", "Nodes": [ { "Name": "x" } ] } ] }""");
        var chained = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Urls"] = "http://127.0.0.1:1", ["resources:0:name"] = "b" }).Build();
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(file)
            .AddConfiguration(chained)
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Resources:10:Name"] = "c", ["Resources:2"] = "whole", ["Cleared"] = null })
            .AddCommandLine(["--Failover:Quorum=2"])
            .Build();

        var walked = configuration.AsEnumerable().Where(p => p.Value is not null).Select(p => p.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var read = agent::RedisShared.Hosting.CommandLine.Keys(configuration).Where(k => configuration[k] is not null).ToList();

        Assert.Equal(walked.Count, read.Count);
        Assert.True(walked.SetEquals(read), $"walked: {string.Join(", ", walked.Order())}; read: {string.Join(", ", read.Order())}");
        Assert.Contains("Failover:Quorum", read);
        Assert.Contains("Urls", read);
    }

    private static IConfigurationRoot Configuration(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();
}
