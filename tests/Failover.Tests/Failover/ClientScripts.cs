using System.Diagnostics;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// tests/clients: scripts that drive Redis clients from other ecosystems (ioredis from npm,
/// redis-py from Debian). The npm packages are installed by the first test that needs them, from
/// the lock file (npm ci), so a plain dotnet test needs nothing done by hand.
/// </summary>
internal static class ClientScripts
{
    private static readonly SemaphoreSlim Installing = new(1, 1);

    public static string File(string name) => RepositoryFiles.Path(Path.Combine("tests", "clients", name));

    public static async Task InstallAsync()
    {
        await Installing.WaitAsync();
        try
        {
            if (System.IO.File.Exists(File(Path.Combine("node_modules", "ioredis", "package.json"))))
            {
                return;
            }

            var start = new ProcessStartInfo("npm", ["ci", "--no-audit", "--no-fund"])
            {
                WorkingDirectory = RepositoryFiles.Path(Path.Combine("tests", "clients")),
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using var npm = Process.Start(start)!;
            var stdout = npm.StandardOutput.ReadToEndAsync();
            var stderr = npm.StandardError.ReadToEndAsync();
            await npm.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
            Assert.True(npm.ExitCode == 0, $"npm ci in tests/clients: exit {npm.ExitCode}\n{await stdout}\n{await stderr}");
        }
        finally
        {
            Installing.Release();
        }
    }
}
