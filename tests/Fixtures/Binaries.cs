namespace RedisAgent.Testing;

/// <summary>
/// Where the programs under test are: beside the tests (the build the tests compiled), or, when
/// <see cref="Variable"/> names a directory (scripts/publish-aot's output, which CI sets), the shipped
/// NativeAOT binaries in it, so that every process-level test runs what users run.
/// </summary>
public static class Binaries
{
    public const string Variable = "PUBLISHED_BINARIES";

    /// <summary>The directory of published binaries (<c>redis-agent/redis-agent</c>, <c>redis-failover/redis-failover</c>), or null.</summary>
    public static string? PublishedDirectory => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } directory ? directory : null;

    /// <summary>The binary of <paramref name="program"/> (redis-agent or redis-failover) that tests start.</summary>
    public static string Path(string program) =>
        PublishedDirectory is { } directory
            ? System.IO.Path.Combine(directory, program, program)
            : System.IO.Path.Combine(AppContext.BaseDirectory, program);
}
