using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace RedisAgent.Testing;

/// <summary>
/// A real etcd cluster of three members on loopback aliases (127.0.0.21 to .23), started and
/// stopped by the tests: a member can be killed and started again (on its data directory), so
/// that quorum can be lost and regained.
/// </summary>
public sealed class EtcdCluster : IAsyncDisposable
{
    public const string Binary = "/usr/bin/etcd";

    private readonly TempDirectory _directory = new("etcd");
    private readonly Member[] _members;
    private readonly HttpClient _http;
    private readonly TestCertificates? _tls;

    private EtcdCluster(int size, TestCertificates? tls)
    {
        _tls = tls;
        _members = [.. Enumerable.Range(1, size).Select(i =>
        {
            var address = IPAddress.Parse($"127.0.0.{20 + i}");
            return new Member($"m{i}", address, LoopbackPorts.Free(address), LoopbackPorts.Free(address), _directory.File($"m{i}"), tls is null ? "http" : "https");
        })];
        var handler = new HttpClientHandler();
        if (tls is not null)
        {
            // etcd asks every client for a certificate: the health check presents the test client's.
            handler.ClientCertificates.Add(System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(tls.ClientCertificateFile, tls.ClientKeyFile));
            handler.ServerCertificateCustomValidationCallback = (_, _, _, _) => true;
        }

        _http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(2) };
    }

    /// <summary>The addresses the members' certificate must name (for <see cref="TestCertificates"/>).</summary>
    public static IPAddress[] Addresses(int size = 3) => [.. Enumerable.Range(1, size).Select(i => IPAddress.Parse($"127.0.0.{20 + i}"))];

    /// <summary>The client URLs, comma-separated (Failover:Etcd:Endpoints).</summary>
    public string Endpoints => string.Join(',', _members.Select(m => m.ClientUrl));

    public IReadOnlyList<string> ClientUrls => [.. _members.Select(m => m.ClientUrl)];

    public int Size => _members.Length;

    public string Output => string.Join('\n', _members.SelectMany(m => m.Output.TakeLast(20).Select(l => $"{m.Name}: {l}")));

    /// <summary>Starts the cluster; with <paramref name="tls"/>, its client URLs serve TLS only and require a client certificate the CA signed.</summary>
    public static async Task<EtcdCluster> StartClusterAsync(int size = 3, TestCertificates? tls = null)
    {
        var cluster = new EtcdCluster(size, tls);
        try
        {
            foreach (var member in cluster._members)
            {
                cluster.Launch(member, existing: false);
            }

            foreach (var member in cluster._members)
            {
                await Poll.UntilAsync(() => cluster.HealthyAsync(member), TimeSpan.FromSeconds(30), () => $"etcd {member.Name} healthy\n{cluster.Output}").ConfigureAwait(false);
            }
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return cluster;
    }

    /// <summary>Kills member <paramref name="index"/> (0-based) with SIGKILL.</summary>
    public async Task KillAsync(int index)
    {
        var member = _members[index];
        if (member.Process is { HasExited: false } process)
        {
            Signals.Send(process.Id, Signals.SigKill);
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
    }

    /// <summary>Starts member <paramref name="index"/> again on its data directory, and waits until the cluster answers through it.</summary>
    public async Task StartAsync(int index)
    {
        var member = _members[index];
        Launch(member, existing: true);
        await Poll.UntilAsync(() => HealthyAsync(member), TimeSpan.FromSeconds(30), () => $"etcd {member.Name} healthy again\n{Output}").ConfigureAwait(false);
    }

    private void Launch(Member member, bool existing)
    {
        var cluster = string.Join(',', _members.Select(m => $"{m.Name}={m.PeerUrl}"));
        var start = new ProcessStartInfo(Binary,
        [
            "--name", member.Name,
            "--data-dir", member.DataDirectory,
            "--listen-client-urls", member.ClientUrl,
            "--advertise-client-urls", member.ClientUrl,
            "--listen-peer-urls", member.PeerUrl,
            "--initial-advertise-peer-urls", member.PeerUrl,
            "--initial-cluster", cluster,
            "--initial-cluster-state", existing ? "existing" : "new",
            "--initial-cluster-token", "redis-failover-test",
            // Loopback: a fast heartbeat, so that a lost member's leadership moves within a second or two.
            "--heartbeat-interval", "100",
            "--election-timeout", "1000",
            "--logger", "zap",
            "--log-level", "warn",
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (_tls is not null)
        {
            foreach (var argument in (string[])["--cert-file", _tls.ServerCertificateFile, "--key-file", _tls.ServerKeyFile, "--trusted-ca-file", _tls.CaFile, "--client-cert-auth"])
            {
                start.ArgumentList.Add(argument);
            }
        }

        start.Environment["ETCD_UNSUPPORTED_ARCH"] = "";
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => member.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => member.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        member.Process?.Dispose();
        member.Process = process;
    }

    private async Task<bool> HealthyAsync(Member member)
    {
        try
        {
            var body = await _http.GetStringAsync(new Uri(member.ClientUrl + "/health")).ConfigureAwait(false);
            return body.Contains("\"health\":\"true\"", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var member in _members)
        {
            if (member.Process is { HasExited: false } process)
            {
                Signals.Send(process.Id, Signals.SigKill);
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }

            member.Process?.Dispose();
        }

        _http.Dispose();
        _directory.Dispose();
    }

    private sealed class Member(string name, IPAddress address, int clientPort, int peerPort, string dataDirectory, string scheme)
    {
        public string Name => name;

        public string ClientUrl => $"{scheme}://{address}:{clientPort.ToString(CultureInfo.InvariantCulture)}";

        public string PeerUrl => $"http://{address}:{peerPort.ToString(CultureInfo.InvariantCulture)}";

        public string DataDirectory => dataDirectory;

        public Process? Process { get; set; }

        public ConcurrentQueue<string> Output { get; } = new();

        public void Keep(string? line)
        {
            if (line is not null)
            {
                Output.Enqueue(line);
                while (Output.Count > 200 && Output.TryDequeue(out _))
                {
                }
            }
        }
    }
}
