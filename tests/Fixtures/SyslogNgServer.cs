using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace RedisAgent.Testing;

/// <summary>
/// A real syslog-ng (Debian's syslog-ng-core, unpacked by scripts/test into
/// <c>SYSLOG_NG_ROOT</c>, as it conflicts with rsyslog) on loopback: its RFC 5424 <c>syslog()</c>
/// source over TCP, UDP and, with certificates, TLS, writing every message it parsed as one JSON
/// object of its fields (PROGRAM, PID, HOST, PRIORITY, MESSAGE, SDATA...), which a test reads
/// field by field.
/// </summary>
public sealed class SyslogNgServer : IAsyncDisposable
{
    public static string Root => Environment.GetEnvironmentVariable("SYSLOG_NG_ROOT") is { Length: > 0 } root ? root : "/opt/redis-agent-tests/syslog-ng";

    public static string Binary => Path.Combine(Root, "usr/sbin/syslog-ng");

    private readonly TempDirectory _directory = new("syslog-ng");
    private readonly ConcurrentQueue<string> _output = new();
    private Process? _process;

    private SyslogNgServer(int tcpPort, int udpPort, int tlsPort)
    {
        TcpPort = tcpPort;
        UdpPort = udpPort;
        TlsPort = tlsPort;
    }

    public int TcpPort { get; }

    public int UdpPort { get; }

    /// <summary>The TLS source's port; 0 when started without certificates.</summary>
    public int TlsPort { get; }

    public string TcpUrl => $"tcp://127.0.0.1:{TcpPort}";

    public string UdpUrl => $"udp://127.0.0.1:{UdpPort}";

    public string TlsUrl => $"tls://127.0.0.1:{TlsPort}";

    public string OutputFile => _directory.File("received.json");

    public string Output => string.Join('\n', _output);

    /// <summary>Every message received so far, as syslog-ng parsed it: its name-value pairs.</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, string>> Messages
    {
        get
        {
            string text;
            try
            {
                text = File.Exists(OutputFile) ? File.ReadAllText(OutputFile) : "";
            }
            catch (IOException)
            {
                return [];
            }

            var messages = new List<IReadOnlyDictionary<string, string>>();
            var lines = text.Split('\n');
            // The last piece is either empty or a line syslog-ng is still writing.
            foreach (var line in lines[..^1])
            {
                using var document = JsonDocument.Parse(line);
                var fields = new Dictionary<string, string>(StringComparer.Ordinal);
                Flatten(document.RootElement, "", fields);
                messages.Add(fields);
            }

            return messages;
        }
    }

    /// <summary>Starts syslog-ng; with <paramref name="tls"/>, a TLS source too, serving its server certificate or <paramref name="serverCertificate"/>.</summary>
    public static async Task<SyslogNgServer> StartAsync(TestCertificates? tls = null, (string CertFile, string KeyFile)? serverCertificate = null)
    {
        var server = new SyslogNgServer(LoopbackPorts.Free(), LoopbackPorts.FreeUdp(), tls is null ? 0 : LoopbackPorts.Free());
        var tlsSource = tls is null ? "" : $$"""
                syslog(ip("127.0.0.1") port({{server.TlsPort}}) transport("tls") max-connections(100)
                       tls(key-file("{{serverCertificate?.KeyFile ?? tls.ServerKeyFile}}") cert-file("{{serverCertificate?.CertFile ?? tls.ServerCertificateFile}}") peer-verify(optional-untrusted)));
            """;
        // flags(syslog-protocol) is the syslog() source's own; keep-hostname so HOST is the sender's.
        await File.WriteAllTextAsync(server._directory.File("syslog-ng.conf"), $$"""
            @version: 3.38
            options { stats_freq(0); keep_hostname(yes); log_msg_size(65536); create_dirs(no); };
            source s_drain {
                syslog(ip("127.0.0.1") port({{server.TcpPort}}) transport("tcp") max-connections(100));
                syslog(ip("127.0.0.1") port({{server.UdpPort}}) transport("udp"));
            {{tlsSource}}
            };
            destination d_json { file("{{server.OutputFile}}" template("$(format-json --scope rfc5424 --scope nv-pairs --key ISODATE --key PID --key MSGID --key SEVERITY)\n")); };
            log { source(s_drain); destination(d_json); };
            """).ConfigureAwait(false);
        await server.LaunchAsync().ConfigureAwait(false);
        return server;
    }

    private async Task LaunchAsync()
    {
        var startInfo = new ProcessStartInfo(Binary,
        [
            "-F", "--no-caps",
            "--module-path=" + Path.Combine(Root, "usr/lib/syslog-ng/3.38"),
            "-f", _directory.File("syslog-ng.conf"),
            "-R", _directory.File("syslog-ng.persist"),
            "-p", _directory.File("syslog-ng.pid"),
            "-c", _directory.File("syslog-ng.ctl"),
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        startInfo.Environment["LD_LIBRARY_PATH"] = Path.Combine(Root, "usr/lib/syslog-ng");
        _process = Process.Start(startInfo)!;
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Poll.UntilAsync(() => LoopbackPorts.Accepts(IPAddress.Loopback, TcpPort) && (TlsPort == 0 || LoopbackPorts.Accepts(IPAddress.Loopback, TlsPort)),
            TimeSpan.FromSeconds(15), () => "syslog-ng does not listen. Output:\n" + Output).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            Signals.Send(process.Id, Signals.SigKill);
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }

        _process?.Dispose();
        _directory.Dispose();
    }

    private static void Flatten(JsonElement element, string prefix, Dictionary<string, string> into)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                Flatten(property.Value, prefix.Length == 0 ? property.Name : prefix + "." + property.Name, into);
            }
        }
        else
        {
            into[prefix] = element.ValueKind == JsonValueKind.String ? element.GetString()! : element.GetRawText();
        }
    }


    private void Keep(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
        }
    }
}
