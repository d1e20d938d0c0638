using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace RedisAgent.Testing;

/// <summary>
/// The peer: a real redis_exporter (Debian's prometheus-redis-exporter) scraping one Redis on
/// loopback and serving <c>/metrics</c> on a loopback port of its own.
/// </summary>
public sealed class RedisExporterProcess : IAsyncDisposable
{
    public const string Binary = "/usr/bin/prometheus-redis-exporter";

    private readonly ConcurrentQueue<string> _output = new();
    private readonly Process _process;

    private RedisExporterProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    /// <summary>host:port of its <c>/metrics</c>, for a scrape target.</summary>
    public string Target => "127.0.0.1:" + Port.ToString(CultureInfo.InvariantCulture);

    public string Output => string.Join('\n', _output);

    public static async Task<RedisExporterProcess> StartAsync(int redisPort)
    {
        var port = LoopbackPorts.Free();
        var startInfo = new ProcessStartInfo(Binary,
        [
            "-redis.addr", "redis://127.0.0.1:" + redisPort.ToString(CultureInfo.InvariantCulture),
            "-web.listen-address", "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture),
            // total_system_memory_bytes, which the mixin's RedisOutOfMemory divides by.
            "-include-system-metrics",
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var exporter = new RedisExporterProcess(Process.Start(startInfo)!, port);
        exporter._process.OutputDataReceived += (_, e) => exporter.Keep(e.Data);
        exporter._process.ErrorDataReceived += (_, e) => exporter.Keep(e.Data);
        exporter._process.BeginOutputReadLine();
        exporter._process.BeginErrorReadLine();
        try
        {
            await Poll.UntilAsync(() => LoopbackPorts.Accepts(IPAddress.Loopback, port), TimeSpan.FromSeconds(15),
                () => "redis_exporter does not listen. Output:\n" + exporter.Output).ConfigureAwait(false);
        }
        catch
        {
            await exporter.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return exporter;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Signals.Send(_process.Id, Signals.SigKill);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }

        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
        }
    }
}
