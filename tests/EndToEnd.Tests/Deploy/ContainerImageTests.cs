using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using RedisAgent.Testing;

namespace RedisAgent.Tests.Deploy;

/// <summary>
/// The Dockerfile built and run, with Debian's podman (no Docker engine runs here): both targets are
/// built by scripts/container-images, from base images made from Debian's packages because no image
/// registry is reachable; then the agent's image runs the embedded default alone, runs as the sidecar
/// of a Redis in another container, and the coordinator's image serves its API, all as uid 10001.
/// Every container runs on the host's network (the only one podman has here) bound to loopback, or
/// on no network at all, and is removed by its test.
/// </summary>
[Collection(nameof(ContainerImageTests))]
public sealed class ContainerImageTests(ContainerImageTests.Images images) : IClassFixture<ContainerImageTests.Images>, IDisposable
{
    private const string Token = "container-test-token-0123456789";
    private readonly TempDirectory _directory = new("containers");
    private readonly List<string> _containers = [];

    [Fact]
    public async Task Both_images_are_native_binaries_run_as_uid_10001_with_the_agents_health_check()
    {
        var agent = await InspectAsync(images.Agent);
        var failover = await InspectAsync(images.Failover);
        Assert.Equal("10001:10001", agent.GetProperty("Config").GetProperty("User").GetString());
        Assert.Equal("10001:10001", failover.GetProperty("Config").GetProperty("User").GetString());
        Assert.Equal<string>(["/app/redis-agent/redis-agent"], Strings(agent.GetProperty("Config").GetProperty("Entrypoint")));
        Assert.Equal<string>(["/app/redis-failover/redis-failover"], Strings(failover.GetProperty("Config").GetProperty("Entrypoint")));
        // Kept only in the docker image format (the build says --format docker): the OCI format has no HEALTHCHECK.
        var health = agent.GetProperty("Healthcheck");
        Assert.Equal<string>(["CMD", "/app/redis-agent/redis-agent", "health"], Strings(health.GetProperty("Test")));

        // No .NET runtime in either image: the programs are NativeAOT.
        foreach (var image in new[] { images.Agent, images.Failover })
        {
            var (code, output) = await Podman.RunAsync(TimeSpan.FromSeconds(60), "run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", image,
                "-c", "id -u; ls /usr/share/dotnet /usr/lib/dotnet 2>/dev/null | wc -l; ls /app/*/");
            Assert.True(code == 0, $"{image}: exit {code}: {output}");
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("10001", lines[0]);
            Assert.Equal("0", lines[1]);
            Assert.DoesNotContain(lines, line => line.EndsWith(".dll", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task The_agent_image_alone_runs_the_embedded_default_and_restarts_a_killed_redis_server()
    {
        var secrets = Secrets(("redis-agent-http-token", Token));
        // On a network of its own (loopback only): the embedded default listens on 6379 and 9379 there.
        var name = await StartAsync("--network", "none", "-v", $"{secrets}:/run/secrets:ro", images.Agent);

        await Poll.UntilAsync(async () => (await Podman.RunAsync(TimeSpan.FromSeconds(30), "healthcheck", "run", name)).Code == 0,
            TimeSpan.FromSeconds(60), () => $"the image's HEALTHCHECK never passed:\n{Logs(name)}");
        var first = await RedisPidAsync(name);
        Assert.True(first > 0, $"no redis-server answered in the container:\n{Logs(name)}");
        // The agent and the redis-server it started run as the image's user.
        var (_, uids) = await ExecAsync(name, $"id -u; awk '/^Uid:/{{print $2}}' /proc/{first}/status");
        Assert.Equal(["10001", "10001"], uids.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        // /metrics needs the bearer token from the mounted secret; the health check did not.
        var metrics = await HttpInsideAsync(name, 9379, "/metrics", withToken: true);
        Assert.Contains("redis_up 1", metrics, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 401", await HttpInsideAsync(name, 9379, "/metrics", withToken: false), StringComparison.Ordinal);

        // kill -9 of redis-server: the agent (the exec driver) starts it again, in the same container.
        var (killed, killOutput) = await ExecAsync(name, $"kill -9 {first}");
        Assert.True(killed == 0, killOutput);
        await Poll.UntilAsync(async () => await RedisPidAsync(name) is var pid && pid > 0 && pid != first,
            TimeSpan.FromSeconds(30), () => $"redis-server {first} was not restarted:\n{Logs(name)}");
        await Poll.UntilAsync(async () => (await Podman.RunAsync(TimeSpan.FromSeconds(30), "healthcheck", "run", name)).Code == 0,
            TimeSpan.FromSeconds(30), () => $"unhealthy after the restart:\n{Logs(name)}");
        Assert.Contains("redis_up 1", await HttpInsideAsync(name, 9379, "/metrics", withToken: true), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_agent_image_without_its_token_secret_stops_at_once_naming_the_file()
    {
        var (code, output) = await Podman.RunAsync(TimeSpan.FromSeconds(60), "run", "--rm", "--network", "none", images.Agent);
        Assert.True(code == 78, $"exit {code}: {output}");
        Assert.Contains("/run/secrets/redis-agent-http-token", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_agent_image_as_the_sidecar_of_a_redis_container_reports_its_death_with_the_none_driver()
    {
        var redisPort = LoopbackPorts.Free();
        var httpPort = LoopbackPorts.Free();
        // Redis in a container of its own (the agent's image carries redis-server), on loopback.
        var redis = await StartAsync("--network", "host", "--entrypoint", "redis-server", images.Agent,
            "--port", redisPort.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no");
        var secrets = Secrets(("redis-agent-http-token", Token));
        var agent = await StartAsync("--network", "host", "-v", $"{secrets}:/run/secrets:ro",
            "-e", $"REDIS_URL=redis://127.0.0.1:{redisPort}", "-e", "Restart__Driver=none", "-e", $"Urls=http://127.0.0.1:{httpPort}", images.Agent);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", Token);
        await Poll.UntilAsync(async () => await MetricsAsync(http, httpPort) is { } text && text.Contains("redis_up 1", StringComparison.Ordinal),
            TimeSpan.FromSeconds(60), () => $"the sidecar never saw its Redis:\n{Logs(agent)}");
        using (var anonymous = new HttpClient())
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync($"http://127.0.0.1:{httpPort}/metrics")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync($"http://127.0.0.1:{httpPort}/healthz")).StatusCode);
        }

        // The Redis container dies: with the none driver the platform restarts containers, so the agent reports it.
        var (killed, killOutput) = await Podman.RunAsync(TimeSpan.FromSeconds(30), "kill", redis);
        Assert.True(killed == 0, killOutput);
        await Poll.UntilAsync(async () => await MetricsAsync(http, httpPort) is { } text && text.Contains("redis_up 0", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), () => $"redis_up never fell to 0:\n{Logs(agent)}");
        await Poll.UntilAsync(() => Logs(agent).Contains("[1111]", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), () => $"no event 1111 (restart needed, driver none):\n{Logs(agent)}");

        // The platform starts it again: the agent sees it back.
        var (started, startOutput) = await Podman.RunAsync(TimeSpan.FromSeconds(30), "start", redis);
        Assert.True(started == 0, startOutput);
        await Poll.UntilAsync(async () => await MetricsAsync(http, httpPort) is { } text && text.Contains("redis_up 1", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), () => $"the sidecar never saw its Redis back:\n{Logs(agent)}");
        Assert.DoesNotContain(Token, Logs(agent), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_coordinator_image_serves_its_api_over_tls_with_mounted_secrets_and_stops_without_them()
    {
        var (missingCode, missing) = await Podman.RunAsync(TimeSpan.FromSeconds(60), "run", "--rm", "--network", "none", images.Failover);
        Assert.True(missingCode == 78, $"exit {missingCode}: {missing}");
        Assert.Contains("/run/secrets/redis-failover", missing, StringComparison.Ordinal);

        using var certificates = new TestCertificates();
        const string adminToken = "container-admin-token-0123456789";
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(adminToken)));
        var secrets = Secrets(
            ("redis-failover.crt", File.ReadAllText(certificates.ServerCertificateFile)),
            ("redis-failover.key", File.ReadAllText(certificates.ServerKeyFile)),
            ("redis-failover-credentials", $"admin alice sha256:{hash}\n"));
        var port = LoopbackPorts.Free();
        var sentinelPort = LoopbackPorts.Free();
        var name = await StartAsync("--network", "host", "-v", $"{secrets}:/run/secrets:ro",
            "-e", $"Urls=https://127.0.0.1:{port}", "-e", $"Sentinel__Urls=127.0.0.1:{sentinelPort}", "-e", "Failover__MetricsUrl=",
            "-e", "Resources__0__Name=cache",
            "-e", "Resources__0__Nodes__0__Name=db-1", "-e", "Resources__0__Nodes__0__Address=127.0.0.1:6379",
            "-e", "Resources__0__Nodes__1__Name=db-2", "-e", "Resources__0__Nodes__1__Address=127.0.0.2:6379",
            "-e", "Resources__0__UrlFile=/var/lib/redis-agent/failover/cache.env",
            images.Failover);

        // The operator's CLI (the host's build of the same program) reaches it over TLS, verified against the CA.
        var tokenFile = _directory.File("admin-token");
        await File.WriteAllTextAsync(tokenFile, adminToken + "\n");
        var cli = Binaries.Path("redis-failover");
        var status = "";
        await Poll.UntilAsync(async () =>
        {
            var (code, output) = await Commands.RunAsync(cli, TimeSpan.FromSeconds(30), "status", "-r", "cache", "--url", $"https://127.0.0.1:{port}", "--token-file", tokenFile, "--ca-file", certificates.CaFile);
            status = output;
            return code == 0;
        }, TimeSpan.FromSeconds(60), () => $"status never answered: {status}\n{Logs(name)}");
        Assert.StartsWith("cache: ", status, StringComparison.Ordinal);
        Assert.Equal("PONG", await Resp.CommandAsync("127.0.0.1", sentinelPort, "PING"));
        Assert.DoesNotContain(adminToken, Logs(name), StringComparison.Ordinal);
    }

    public void Dispose()
    {
        // Removed, and checked: one CI run left a stopped sidecar behind (its removal, racing its own
        // stop, did not take). Asked up to three times; one still there fails the test, named.
        var left = new List<string>();
        foreach (var container in _containers)
        {
            var gone = false;
            for (var attempt = 0; attempt < 3 && !gone; attempt++)
            {
                Podman.RunAsync(TimeSpan.FromSeconds(60), "rm", "-f", "-t", "2", container).GetAwaiter().GetResult();
                gone = Podman.RunAsync(TimeSpan.FromSeconds(30), "container", "exists", container).GetAwaiter().GetResult().Code != 0;
            }

            if (!gone)
            {
                left.Add(container);
            }
        }

        _directory.Dispose();
        if (left.Count > 0)
        {
            throw new InvalidOperationException($"podman did not remove {string.Join(", ", left)}");
        }
    }

    /// <summary>A directory of secrets readable by the images' user (uid 10001), as an orchestrator mounts them.</summary>
    private string Secrets(params (string Name, string Content)[] files)
    {
        var directory = _directory.File("secrets-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        foreach (var (name, content) in files)
        {
            File.WriteAllText(Path.Combine(directory, name), content);
            File.SetUnixFileMode(Path.Combine(directory, name), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        Podman.Chown(directory, 10001);
        return directory;
    }

    private async Task<string> StartAsync(params string[] arguments)
    {
        var name = "redis-agent-test-" + Guid.NewGuid().ToString("N")[..12];
        _containers.Add(name);
        var (code, output) = await Podman.RunAsync(TimeSpan.FromSeconds(60), ["run", "-d", "--name", name, .. arguments]);
        Assert.True(code == 0, $"podman run {string.Join(' ', arguments)}: exit {code}: {output}");
        return name;
    }

    private static string Logs(string container) =>
        Podman.RunAsync(TimeSpan.FromSeconds(30), "logs", container).GetAwaiter().GetResult().Output;

    private static Task<(int Code, string Output)> ExecAsync(string container, string script) =>
        Podman.RunAsync(TimeSpan.FromSeconds(30), "exec", container, "/bin/sh", "-c", script);

    /// <summary>The process id of the redis-server answering on 6379 in the container, or 0.</summary>
    private static async Task<int> RedisPidAsync(string container)
    {
        var (code, output) = await ExecAsync(container, "redis-cli -p 6379 info server | sed -n 's/^process_id:\\([0-9]*\\).*/\\1/p'");
        return code == 0 && int.TryParse(output.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : 0;
    }

    /// <summary>An HTTP GET from inside the container (bash's /dev/tcp: the image has no curl), the token read from the mounted secret there.</summary>
    private static async Task<string> HttpInsideAsync(string container, int port, string path, bool withToken)
    {
        var authorization = withToken ? "Authorization: Bearer $(cat /run/secrets/redis-agent-http-token)\\r\\n" : "";
        var (_, output) = await Podman.RunAsync(TimeSpan.FromSeconds(30), "exec", container, "/bin/bash", "-c",
            $"exec 3<>/dev/tcp/127.0.0.1/{port}; printf \"GET {path} HTTP/1.1\\r\\nHost: localhost\\r\\n{authorization}Connection: close\\r\\n\\r\\n\" >&3; cat <&3");
        return output;
    }

    private static async Task<string?> MetricsAsync(HttpClient http, int port)
    {
        try
        {
            return await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(item => item.GetString() ?? "")];

    private static async Task<JsonElement> InspectAsync(string image)
    {
        var (code, output) = await Podman.RunAsync(TimeSpan.FromSeconds(30), "image", "inspect", image);
        Assert.True(code == 0, output);
        using var document = JsonDocument.Parse(output);
        return document.RootElement[0].Clone();
    }

    /// <summary>Both images, built once for the class by scripts/container-images (cached layers: seconds when scripts/test built them already).</summary>
    public sealed class Images : IAsyncLifetime
    {
        public string Agent { get; } = "localhost/redis-agent:dev";

        public string Failover { get; } = "localhost/redis-failover:dev";

        public async Task InitializeAsync()
        {
            var (code, output) = await Commands.RunAsync(RepositoryFiles.Path("scripts/container-images"), TimeSpan.FromMinutes(20));
            Assert.True(code == 0, $"scripts/container-images failed (exit {code}):\n{output}");
        }

        public Task DisposeAsync() => Task.CompletedTask;
    }
}

/// <summary>
/// Run alone, after the other tests: building and starting containers takes both cores in bursts, and
/// the timing bounds of the failover tests beside it are not written for that.
/// </summary>
[CollectionDefinition(nameof(ContainerImageTests), DisableParallelization = true)]
public sealed class ContainerImagesCollection;
