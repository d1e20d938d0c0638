using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace RedisAgent.Testing;

/// <summary>
/// A real rsyslogd on loopback: imtcp (octet-counted framing) and imudp inputs, writing every
/// message to a file in the router's form, <c>TIMESTAMP app[procid]: msg</c>, which a test reads.
/// </summary>
public sealed class RsyslogServer : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/rsyslogd";

    private readonly TempDirectory _directory = new("rsyslog");
    private readonly ConcurrentQueue<string> _output = new();
    private Process? _process;

    private RsyslogServer(int tcpPort, int udpPort, int tlsPort)
    {
        TcpPort = tcpPort;
        UdpPort = udpPort;
        TlsPort = tlsPort;
    }

    /// <summary>The TLS input's port (octet-counted over TLS); 0 when started without certificates.</summary>
    public int TlsPort { get; }

    public string TlsUrl => $"tls://127.0.0.1:{TlsPort}";

    public int TcpPort { get; }

    public int UdpPort { get; }

    public string TcpUrl => $"tcp://127.0.0.1:{TcpPort}";

    public string UdpUrl => $"udp://127.0.0.1:{UdpPort}";

    public string OutputFile => _directory.File("received.log");

    /// <summary>rsyslogd's process id (to freeze it with SIGSTOP, as an overloaded or hung drain).</summary>
    public int ProcessId => _process!.Id;

    /// <summary>The lines received so far (each one a message, as rsyslog wrote it).</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            try
            {
                var text = File.Exists(OutputFile) ? File.ReadAllText(OutputFile) : "";
                var lines = text.Split('\n');
                // The last piece is either empty or a line rsyslog is still writing.
                return lines[..^1];
            }
            catch (IOException)
            {
                return [];
            }
        }
    }

    /// <summary>Starts rsyslogd; with <paramref name="tls"/>, also a TLS input serving those certificates.</summary>
    public static async Task<RsyslogServer> StartAsync(TestCertificates? tls = null)
    {
        var server = new RsyslogServer(LoopbackPorts.Free(), LoopbackPorts.FreeUdp(), tls is null ? 0 : LoopbackPorts.Free());
        var tlsConfig = tls is null ? "" : $$"""
            global(DefaultNetstreamDriverCAFile="{{tls.CaFile}}" DefaultNetstreamDriverCertFile="{{tls.ServerCertificateFile}}" DefaultNetstreamDriverKeyFile="{{tls.ServerKeyFile}}")
            input(type="imtcp" address="127.0.0.1" port="{{server.TlsPort}}" streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon")
            """;
        await File.WriteAllTextAsync(server._directory.File("rsyslog.conf"), $$"""
            global(workDirectory="{{server._directory.Path}}" maxMessageSize="64k")
            module(load="imtcp")
            module(load="imudp")
            {{tlsConfig}}
            input(type="imtcp" address="127.0.0.1" port="{{server.TcpPort}}")
            input(type="imudp" address="127.0.0.1" port="{{server.UdpPort}}")
            template(name="router" type="string" string="%timereported:::date-year%-%timereported:::date-month%-%timereported:::date-day%T%timereported:::date-hour%:%timereported:::date-minute%:%timereported:::date-second%Z %app-name%[%procid%]: %msg%\n")
            action(type="omfile" file="{{server.OutputFile}}" template="router")
            """).ConfigureAwait(false);
        await server.LaunchAsync().ConfigureAwait(false);
        return server;
    }

    /// <summary>Kills rsyslogd (as a crash would) and starts it again on the same ports.</summary>
    public async Task RestartAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await LaunchAsync().ConfigureAwait(false);
    }

    private async Task LaunchAsync()
    {
        var startInfo = new ProcessStartInfo(Binary, ["-n", "-f", _directory.File("rsyslog.conf"), "-i", _directory.File("rsyslogd.pid")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process?.Dispose();
        _process = Process.Start(startInfo)!;
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Poll.UntilAsync(AcceptsTcp, TimeSpan.FromSeconds(15), () => "rsyslogd does not listen. Output:\n" + string.Join('\n', _output)).ConfigureAwait(false);
    }

    private async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            Signals.Send(process.Id, Signals.SigKill);
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _process?.Dispose();
        _directory.Dispose();
    }


    private bool AcceptsTcp() => LoopbackPorts.Accepts(IPAddress.Loopback, TcpPort);

    private void Keep(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
        }
    }
}
