using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RedisAgent.Hosting;

namespace RedisAgent.Tests.Reliability;

/// <summary>
/// Every duration key of both programs, found by reflection so that a new key cannot be missed, is
/// refused past what a timer can hold (about 49.7 days), at start, naming the key: never accepted
/// and then crashing the loop that arms it.
/// </summary>
public sealed class ConfigurationRangeTests
{
    public static TheoryData<string> AgentDurationKeys() => DurationKeys(typeof(AgentHost).Assembly);

    public static TheoryData<string> FailoverDurationKeys() => DurationKeys(typeof(RedisFailover.Hosting.FailoverHost).Assembly);

    [Theory]
    [MemberData(nameof(AgentDurationKeys))]
    public void An_agent_duration_past_a_timers_range_is_refused_naming_the_key(string key)
    {
        var builder = AgentHost.CreateBuilder([$"--{key}=60.00:00:00", "--Agent:StateDirectory=" + Path.GetTempPath()]);
        // Its configuration watches the JSON files (an inotify instance, 128 a user): a build that throws never disposes it.
        using var configuration = builder.Configuration;
        // Some options are read while the host is built (the log bus is a logger provider): either step may refuse.
        var error = Assert.ThrowsAny<Exception>(() =>
        {
            using var host = AgentHost.Build(builder);
            host.Services.GetRequiredService<IStartupValidator>().Validate();
        });

        Assert.Contains(key, AgentHost.DescribeConfigurationError(error) ?? error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(FailoverDurationKeys))]
    public void A_coordinator_duration_past_a_timers_range_is_refused_naming_the_key(string key)
    {
        using var store = new RedisAgent.Testing.TempDirectory("range");
        var builder = RedisFailover.Hosting.FailoverHost.CreateBuilder(
        [
            $"--{key}=60.00:00:00", "--Failover:Token=a-token-of-enough-length", "--Failover:StoreDirectory=" + store.Path,
            "--Resources:0:Name=cache", "--Resources:0:Nodes:0:Name=a", "--Resources:0:Nodes:0:Address=127.0.0.1:6379",
            "--Resources:0:Nodes:1:Name=b", "--Resources:0:Nodes:1:Address=127.0.0.1:6380",
        ]);
        // Its configuration watches the JSON files (an inotify instance, 128 a user): a build that throws never disposes it.
        using var configuration = builder.Configuration;
        var error = Assert.ThrowsAny<Exception>(() =>
        {
            using var host = RedisFailover.Hosting.FailoverHost.Build(builder);
            host.Services.GetRequiredService<IStartupValidator>().Validate();
        });

        Assert.Contains(key, RedisFailover.Hosting.FailoverHost.DescribeConfigurationError(error) ?? error.ToString(), StringComparison.Ordinal);
    }

    private static TheoryData<string> DurationKeys(Assembly assembly)
    {
        var keys = new TheoryData<string>();
        foreach (var (key, type) in OptionKeys.All(assembly))
        {
            if (type == typeof(TimeSpan))
            {
                keys.Add(key);
            }
        }

        return keys;
    }
}
