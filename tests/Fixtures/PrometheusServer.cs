using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;

namespace RedisAgent.Testing;

/// <summary>
/// A real Prometheus server on loopback that scrapes the given targets every
/// <c>scrapeInterval</c>, and answers instant queries through its HTTP API.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    public const string Binary = "/usr/bin/prometheus";

    public const string PromTool = "/usr/bin/promtool";

    private readonly TempDirectory _directory = new("prometheus");
    private readonly ConcurrentQueue<string> _output = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private Process? _process;

    private PrometheusServer(int port) => Port = port;

    public int Port { get; }

    public Uri Address => new($"http://127.0.0.1:{Port}/");

    public string Output => string.Join('\n', _output);

    /// <summary>Starts Prometheus scraping <paramref name="targets"/> (host:port, loopback only) at <c>/metrics</c>.</summary>
    public static async Task<PrometheusServer> StartAsync(IReadOnlyList<string> targets, TimeSpan scrapeInterval) =>
        await StartAsync(targets, scrapeInterval, rules: null).ConfigureAwait(false);

    /// <summary>As above, with a rule file's text (YAML or JSON), evaluated at the scrape interval.</summary>
    public static async Task<PrometheusServer> StartAsync(IReadOnlyList<string> targets, TimeSpan scrapeInterval, string? rules)
    {
        foreach (var target in targets)
        {
            if (!target.StartsWith("127.", StringComparison.Ordinal))
            {
                throw new ArgumentException($"Test targets must be on loopback, not {target}.", nameof(targets));
            }
        }

        var server = new PrometheusServer(LoopbackPorts.Free());
        var interval = ((int)scrapeInterval.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms";
        var ruleFiles = "";
        if (rules is not null)
        {
            await File.WriteAllTextAsync(server._directory.File("rules.yml"), rules).ConfigureAwait(false);
            ruleFiles = $"rule_files: ['{server._directory.File("rules.yml")}']";
        }

        await File.WriteAllTextAsync(server._directory.File("prometheus.yml"), $"""
            global:
              scrape_interval: {interval}
              scrape_timeout: {interval}
              evaluation_interval: {interval}
            {ruleFiles}
            scrape_configs:
              - job_name: redis-agent
                static_configs:
                  - targets: [{string.Join(", ", targets.Select(t => $"'{t}'"))}]
            """).ConfigureAwait(false);
        var startInfo = new ProcessStartInfo(Binary,
        [
            "--config.file=" + server._directory.File("prometheus.yml"),
            "--storage.tsdb.path=" + server._directory.File("data"),
            "--web.listen-address=127.0.0.1:" + server.Port.ToString(CultureInfo.InvariantCulture),
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        server._process = Process.Start(startInfo)!;
        server._process.OutputDataReceived += (_, e) => server.Keep(e.Data);
        server._process.ErrorDataReceived += (_, e) => server.Keep(e.Data);
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        try
        {
            await Poll.UntilAsync(server.IsReadyAsync, TimeSpan.FromSeconds(30), () => "prometheus is not ready. Output:\n" + server.Output).ConfigureAwait(false);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return server;
    }

    /// <summary>The value of an instant query's first series; null when it returns none.</summary>
    public async Task<double?> QueryAsync(string expression)
    {
        var uri = new Uri(Address, "api/v1/query?query=" + Uri.EscapeDataString(expression));
        using var document = JsonDocument.Parse(await _http.GetStringAsync(uri).ConfigureAwait(false));
        var data = document.RootElement.GetProperty("data");
        var result = data.GetProperty("result");
        // A scalar ("1") is [time, "value"]; a vector is [{metric, value: [time, "value"]}...].
        var scalar = data.GetProperty("resultType").GetString() == "scalar";
        return !scalar && result.GetArrayLength() == 0
            ? null
            : (scalar ? result[1] : result[0].GetProperty("value")[1]).GetString()! switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                var number => double.Parse(number, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
    }

    /// <summary>The health of the scrape targets as Prometheus sees them ("up", "down", "unknown"), with the last error.</summary>
    public async Task<string> TargetsAsync() =>
        await _http.GetStringAsync(new Uri(Address, "api/v1/targets")).ConfigureAwait(false);

    private async Task<bool> IsReadyAsync()
    {
        try
        {
            using var response = await _http.GetAsync(new Uri(Address, "-/ready")).ConfigureAwait(false);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            Signals.Send(process.Id, Signals.SigKill);
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }

        _process?.Dispose();
        _http.Dispose();
        _directory.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
        }
    }
}

/// <summary>The Prometheus text format, read back: each sample line keyed by its series (<c>name{labels}</c> as written).</summary>
public static class PromText
{
    public static IReadOnlyDictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            samples[line[..space]] = line[(space + 1)..] switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                var number => double.Parse(number, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
        }

        return samples;
    }

    /// <summary>The <c># TYPE</c> of each metric family.</summary>
    public static IReadOnlyDictionary<string, string> Types(string text) =>
        text.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal))
            .Select(l => l.Split(' '))
            .ToDictionary(p => p[2], p => p[3], StringComparer.Ordinal);

    /// <summary>The <c># HELP</c> of each metric family.</summary>
    public static IReadOnlyDictionary<string, string> Help(string text) =>
        text.Split('\n').Where(l => l.StartsWith("# HELP ", StringComparison.Ordinal))
            .Select(l => l["# HELP ".Length..].Split(' ', 2))
            .ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "", StringComparer.Ordinal);
}
