using System.Diagnostics;

namespace RedisAgent.Testing;

/// <summary>
/// Debian's headless Chromium, as a person's browser would load a page: the DOM after its scripts ran
/// (not the HTML source), or a screenshot. Started with the flags that keep it off the network
/// (no background networking, no component updates, no sync), a fresh profile each time, and
/// killed by its process id if it outlives the bound.
/// </summary>
public static class Chromium
{
    public const string Binary = "/usr/bin/chromium";

    /// <summary>The page's DOM once its scripts have had <paramref name="budget"/> of (virtual) time.</summary>
    public static async Task<string> DumpDomAsync(string url, TimeSpan budget) =>
        (await RunAsync(url, budget, ["--dump-dom"])).Stdout;

    /// <summary>Saves a screenshot of the page (<paramref name="width"/> × <paramref name="height"/>) to <paramref name="path"/>.</summary>
    public static async Task ScreenshotAsync(string url, string path, TimeSpan budget, int width = 1280, int height = 1100)
    {
        var (_, stderr) = await RunAsync(url, budget, [$"--screenshot={path}", $"--window-size={width},{height}", "--hide-scrollbars"]);
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"chromium wrote no screenshot to {path}: {stderr}");
        }
    }

    private static async Task<(string Stdout, string Stderr)> RunAsync(string url, TimeSpan budget, string[] what)
    {
        using var profile = new TempDirectory("chromium");
        var start = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage",
            $"--user-data-dir={profile.Path}", $"--virtual-time-budget={(long)budget.TotalMilliseconds}", .. what, url])
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("chromium did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(budget + TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"chromium did not finish loading {url} in {budget + TimeSpan.FromSeconds(60)}: {await stderr}");
        }

        return (await stdout, await stderr);
    }
}
