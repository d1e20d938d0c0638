namespace RedisAgent.Tests.Deploy;

/// <summary>
/// The Dockerfile, read instruction by instruction (no Docker engine runs here, so the image is not
/// built; PublishSmokeTests runs the very publish commands it runs).
/// </summary>
public sealed class DockerfileTests
{
    private readonly List<(string Instruction, string Arguments)> _dockerfile = RepositoryFiles.Dockerfile();

    [Fact]
    public void It_builds_in_one_stage_and_runs_in_others()
    {
        var stages = _dockerfile.Where(i => i.Instruction == "FROM").Select(i => i.Arguments).ToList();

        Assert.Contains("${SDK_IMAGE} AS build", stages);
        Assert.Contains("${RUNTIME_IMAGE} AS runtime", stages);
        Assert.Contains("runtime AS failover", stages);
        // The last stage is the default target: the agent.
        Assert.Equal("runtime AS agent", stages[^1]);
    }

    [Fact]
    public void Its_base_images_are_arguments_whose_defaults_are_the_public_images_and_the_runtime_has_no_dotnet()
    {
        var arguments = _dockerfile.Where(i => i.Instruction == "ARG").Select(i => i.Arguments).ToList();

        Assert.Contains("SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0", arguments);
        // NativeAOT binaries need no .NET runtime: runtime-deps (glibc, ICU, OpenSSL), not aspnet.
        Assert.Contains("RUNTIME_IMAGE=mcr.microsoft.com/dotnet/runtime-deps:10.0", arguments);
        var build = _dockerfile.SkipWhile(i => i.Arguments != "${SDK_IMAGE} AS build").Skip(1).TakeWhile(i => i.Instruction != "FROM").ToList();
        Assert.Contains(build, i => i.Instruction == "RUN" && i.Arguments.Contains("clang", StringComparison.Ordinal) && i.Arguments.Contains("zlib1g-dev", StringComparison.Ordinal));
        Assert.All(build.Where(i => i.Arguments.Contains("dotnet publish", StringComparison.Ordinal)), i => Assert.Contains("-r linux-x64", i.Arguments, StringComparison.Ordinal));
    }

    [Fact]
    public void Restore_is_its_own_layer_before_the_sources_are_copied()
    {
        var restore = _dockerfile.FindIndex(i => i.Instruction == "RUN" && i.Arguments.Contains("dotnet restore", StringComparison.Ordinal));
        var sources = _dockerfile.FindIndex(i => i.Instruction == "COPY" && i.Arguments == "src/ src/");

        Assert.InRange(restore, 0, sources - 1);
        // Only project and build files are copied before the restore.
        Assert.All(_dockerfile.Take(restore).Where(i => i.Instruction == "COPY"), c =>
            Assert.All(c.Arguments.Split(' ')[..^1], f => Assert.Matches(@"(\.csproj|\.props|global\.json)$", f)));
        // Every project the published programs build from is restored from its own file.
        foreach (var project in new[] { "src/Protos/Protos.csproj", "src/Agent/Agent.csproj", "src/Failover/Failover.csproj" })
        {
            Assert.True(File.Exists(RepositoryFiles.Path(project)), project);
            Assert.Contains(_dockerfile.Take(restore), i => i.Instruction == "COPY" && i.Arguments.StartsWith(project, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Each_program_runs_as_a_non_root_user_from_its_publish_directory()
    {
        foreach (var (stage, program) in new[] { ("runtime AS failover", "redis-failover"), ("runtime AS agent", "redis-agent") })
        {
            var start = _dockerfile.FindIndex(i => i.Instruction == "FROM" && i.Arguments == stage);
            var end = _dockerfile.FindIndex(start + 1, i => i.Instruction == "FROM");
            var body = _dockerfile[start..(end < 0 ? _dockerfile.Count : end)];

            var user = body.Single(i => i.Instruction == "USER").Arguments;
            Assert.DoesNotMatch(@"^(root|0)(:|$)", user);
            Assert.Equal($"[\"/app/{program}/{program}\"]", body.Single(i => i.Instruction == "ENTRYPOINT").Arguments);
            Assert.Contains(body, i => i.Instruction == "COPY" && i.Arguments == $"--from=build /out/{program} /app/{program}");
        }
    }
}
