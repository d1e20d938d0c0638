extern alias agent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using RedisAgent.Testing;
using RedisFailover.Protos;

namespace RedisAgent.Tests.Trust;

/// <summary>
/// The coordinator on https:// with a credential per caller (issue 13): agents bound to one node
/// (by token or client certificate), operators with read or admin. Every refusal here is tried
/// against the running coordinator over TLS, and leaves the resource as it was.
/// </summary>
public sealed class CoordinatorTrustTests : IAsyncLifetime
{
    private const string N1Token = "token-of-n1-0123456789";
    private const string N2Token = "token-of-n2-0123456789";
    private const string ReadToken = "token-of-grafana-01234";
    private const string AdminToken = "token-of-alice-0123456";

    private readonly TestCertificates _certificates = new();
    private readonly TempDirectory _files = new("trust");
    private (string CertFile, string KeyFile, string Sha256) _n1Certificate;
    private FailoverUnderTest _coordinator = null!;
    private readonly int _sentinelTlsPort = LoopbackPorts.Free();

    private string CredentialsFile => _files.File("credentials");

    public async Task InitializeAsync()
    {
        _n1Certificate = _certificates.IssueClient("cache/n1");
        WriteCredentials();
        // Nodes on addresses nothing serves: the coordinator never dials them, it only hears callers.
        _coordinator = await FailoverUnderTest.StartAsync("cache", [("n1", "127.0.0.1:1"), ("n2", "127.0.0.1:2")], new Dictionary<string, string?>
        {
            ["Failover:Token"] = null,
            ["Failover:CredentialsFile"] = CredentialsFile,
            ["Failover:Tls:CertFile"] = _certificates.ServerCertificateFile,
            ["Failover:Tls:KeyFile"] = _certificates.ServerKeyFile,
            ["Failover:Tls:ClientCaFile"] = _certificates.CaFile,
            ["Resources:0:User"] = "app",
            ["Resources:0:PasswordFile"] = PasswordFile,
            ["Resources:0:Database"] = "2",
            ["Resources:0:Nodes:0:TlsAddress"] = "127.0.0.1:3",
            ["Resources:0:PublishCommand"] = $"printf '%s %s\\n' \"$REDIS_URL\" \"$REDIS_TLS_URL\" > {_files.File("hook.out")}",
            ["Sentinel:TlsUrls"] = $"127.0.0.1:{_sentinelTlsPort}",
        });
    }

    private string PasswordFile
    {
        get
        {
            var path = _files.File("password");
            if (!File.Exists(path))
            {
                File.WriteAllText(path, "p@ss word/0123456789\n");
            }

            return path;
        }
    }

    public async Task DisposeAsync()
    {
        _adminChannel?.Dispose();
        await _coordinator.DisposeAsync();
        _files.Dispose();
        _certificates.Dispose();
    }

    /// <summary>
    /// Issue 15: the Sentinel endpoint on TLS (Sentinel:TlsUrls, Redis's tls-port), with the
    /// coordinator's certificate. A real client verifying the chain is served; one that does not
    /// trust it, plain text, and a client that never finishes its handshake are all closed, and
    /// none of them holds the endpoint up.
    /// </summary>
    [Fact]
    public async Task The_sentinel_endpoint_speaks_TLS_with_the_coordinators_certificate()
    {
        var port = _sentinelTlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (code, text) = await RedisCliAsync("--tls", "--cacert", _certificates.CaFile, "-h", "127.0.0.1", "-p", port, "SENTINEL", "master", "cache");
        Assert.True(code == 0, text);
        Assert.StartsWith("name\ncache\n", text, StringComparison.Ordinal);

        using var otherCa = new TestCertificates();
        var (untrustedCode, untrusted) = await RedisCliAsync("--tls", "--cacert", otherCa.CaFile, "-h", "127.0.0.1", "-p", port, "PING");
        Assert.True(untrustedCode != 0 && !untrusted.Contains("PONG", StringComparison.Ordinal), untrusted);

        // Plain text on the TLS port gets nothing back but the close.
        using (var plain = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp))
        {
            await plain.ConnectAsync("127.0.0.1", _sentinelTlsPort);
            await plain.SendAsync("PING\r\n"u8.ToArray(), System.Net.Sockets.SocketFlags.None);
            var buffer = new byte[512];
            var read = await plain.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.DoesNotContain("PONG", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
        }

        // One that never starts its handshake is closed after the handshake's 5 s; others are served meanwhile.
        using var silent = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await silent.ConnectAsync("127.0.0.1", _sentinelTlsPort);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using (var served = await RespClient.ConnectAsync("127.0.0.1", _sentinelTlsPort, caFile: _certificates.CaFile))
        {
            Assert.Equal("PONG", await served.CommandAsync("PING"));
        }

        var closed = await silent.ReceiveAsync(new byte[16], System.Net.Sockets.SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(0, closed);
        Assert.True(clock.Elapsed > TimeSpan.FromSeconds(4), $"closed after {clock.Elapsed.TotalSeconds:0.0} s");
    }

    private static async Task<(int Code, string Text)> RedisCliAsync(params string[] arguments)
    {
        var start = new System.Diagnostics.ProcessStartInfo("redis-cli", arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        return (process.ExitCode, (await stdout).Trim() + (await stderr).Trim());
    }

    [Fact]
    public async Task An_agent_credential_cannot_register_as_another_node()
    {
        using var channel = Channel();
        using var call = new AgentLink.AgentLinkClient(channel).Connect(Bearer(N2Token));
        await call.RequestStream.WriteAsync(new AgentMessage { Registration = new Registration { Resource = "cache", Node = "n1", Role = NodeRole.Primary } });

        var refused = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());

        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.Contains("the credential of cache/n2 cannot register as cache/n1", refused.Status.Detail, StringComparison.Ordinal);
        var status = await Admin().GetStatusAsync(new ResourceRequest { Resource = "cache" }, Bearer(ReadToken));
        Assert.DoesNotContain(status.Nodes, n => n.Connected);
        Assert.Equal("", status.Primary);
    }

    [Fact]
    public async Task An_agent_credential_registers_as_its_own_node()
    {
        using var channel = Channel();
        using var call = new AgentLink.AgentLinkClient(channel).Connect(Bearer(N2Token));
        await call.RequestStream.WriteAsync(new AgentMessage { Registration = new Registration { Resource = "cache", Node = "n2", Role = NodeRole.Replica } });

        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Equal(CoordinatorMessage.BodyOneofCase.Welcome, call.ResponseStream.Current.BodyCase);
    }

    [Theory]
    [InlineData(N1Token)]
    [InlineData(ReadToken)]
    public async Task Neither_an_agent_nor_a_reader_can_promote_pause_or_change_settings(string token)
    {
        var admin = Admin();

        var promote = await Assert.ThrowsAsync<RpcException>(async () => await admin.PromoteAsync(new PromoteRequest { Resource = "cache", Node = "n2" }, Bearer(token)));
        var pause = await Assert.ThrowsAsync<RpcException>(async () => await admin.PauseFailoverAsync(new ResourceRequest { Resource = "cache" }, Bearer(token)));
        var settings = await Assert.ThrowsAsync<RpcException>(async () =>
            await admin.SetSettingsAsync(new SetSettingsRequest { Resource = "cache", Settings = new Settings { TimeoutSeconds = 5 } }, Bearer(token)));

        Assert.All([promote, pause, settings], e => Assert.Equal(StatusCode.PermissionDenied, e.StatusCode));
        Assert.Contains("needs the admin role", promote.Status.Detail, StringComparison.Ordinal);
        var machine = _coordinator.Coordinator["cache"]!.Machine;
        Assert.False(machine.Paused);
        Assert.Equal(0, machine.Term);
        Assert.Null(machine.Settings.TimeoutSeconds);
    }

    [Fact]
    public async Task An_agent_credential_cannot_read_the_admin_api_and_a_reader_cannot_join_as_an_agent()
    {
        var read = await Assert.ThrowsAsync<RpcException>(async () => await Admin().GetStatusAsync(new ResourceRequest { Resource = "cache" }, Bearer(N1Token)));
        Assert.Equal(StatusCode.PermissionDenied, read.StatusCode);

        using var channel = Channel();
        using var call = new AgentLink.AgentLinkClient(channel).Connect(Bearer(ReadToken));
        var join = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await call.RequestStream.WriteAsync(new AgentMessage { Registration = new Registration { Resource = "cache", Node = "n1" } });
            await call.ResponseStream.MoveNext();
        });
        Assert.Equal(StatusCode.PermissionDenied, join.StatusCode);
        Assert.Contains("needs an agent's credential", join.Status.Detail, StringComparison.Ordinal);
    }

    /// <summary>Heroku's way: REDIS_URL with user, password (escaped) and database, and REDIS_TLS_URL beside it when the node serves both; in the file, the hook's environment and the watch stream.</summary>
    [Fact]
    public async Task The_primary_is_published_with_its_credentials_and_its_TLS_url()
    {
        using var channel = Channel();
        using var call = new AgentLink.AgentLinkClient(channel).Connect(Bearer(N1Token));
        await call.RequestStream.WriteAsync(new AgentMessage { Registration = new Registration { Resource = "cache", Node = "n1", Role = NodeRole.Primary, Address = "127.0.0.1:1" } });
        await call.RequestStream.WriteAsync(new AgentMessage { Report = new Report { Role = NodeRole.Primary, LocalVerdict = Verdict.Healthy } });

        const string url = "redis://app:p%40ss%20word%2F0123456789@127.0.0.1:1/2";
        const string tlsUrl = "rediss://app:p%40ss%20word%2F0123456789@127.0.0.1:3/2";
        await Poll.UntilAsync(() => File.Exists(_coordinator.UrlFile) && File.Exists(_files.File("hook.out")) && File.ReadAllText(_files.File("hook.out")).EndsWith('\n'),
            TimeSpan.FromSeconds(10), () => _coordinator.Logs.Text);
        Assert.Equal($"REDIS_URL={url}\nREDIS_TLS_URL={tlsUrl}\n", File.ReadAllText(_coordinator.UrlFile));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(_coordinator.UrlFile));
        Assert.Equal($"{url} {tlsUrl}\n", File.ReadAllText(_files.File("hook.out")));
        using var watch = new Admin.AdminClient(_adminChannel ??= Channel()).WatchPrimary(new ResourceRequest { Resource = "cache" }, Bearer(ReadToken));
        Assert.True(await watch.ResponseStream.MoveNext());
        Assert.Equal((url, tlsUrl), (watch.ResponseStream.Current.Url, watch.ResponseStream.Current.TlsUrl));
        Assert.DoesNotContain("p@ss word", _coordinator.Logs.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_admin_pauses_and_the_journal_names_who_did()
    {
        var status = await Admin().PauseFailoverAsync(new ResourceRequest { Resource = "cache" }, Bearer(AdminToken));

        Assert.True(status.Paused);
        Assert.Contains(_coordinator.Store.Journal("cache"), r => r.Kind == "pause" && r.Text == "automatic failover paused by alice (token)");
    }

    [Fact]
    public async Task A_token_nobody_listed_and_no_token_at_all_are_refused()
    {
        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await Admin().GetStatusAsync(new ResourceRequest { Resource = "cache" }, Bearer("not-a-listed-token-01234")));
        var none = await Assert.ThrowsAsync<RpcException>(async () => await Admin().GetStatusAsync(new ResourceRequest { Resource = "cache" }));

        Assert.Equal(StatusCode.Unauthenticated, unknown.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, none.StatusCode);
        Assert.Contains("not a known credential", unknown.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_certificate_names_its_agent_and_once_revoked_in_the_file_it_is_refused_without_a_restart()
    {
        using var open = Channel(_n1Certificate);
        using var stream = new AgentLink.AgentLinkClient(open).Connect();
        await stream.RequestStream.WriteAsync(new AgentMessage { Registration = new Registration { Resource = "cache", Node = "n1", Role = NodeRole.Primary } });
        Assert.True(await stream.ResponseStream.MoveNext());
        Assert.Equal(CoordinatorMessage.BodyOneofCase.Welcome, stream.ResponseStream.Current.BodyCase);

        WriteCredentials($"revoked sha256:{_n1Certificate.Sha256}");

        // The stream already open is cut too, at a report after the file changed.
        var cut = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                await stream.RequestStream.WriteAsync(new AgentMessage { Report = new Report { Role = NodeRole.Primary, LocalVerdict = Verdict.Healthy, Sequence = i + 1 } });
                while (await stream.ResponseStream.MoveNext().WaitAsync(TimeSpan.FromSeconds(2)))
                {
                    if (stream.ResponseStream.Current.BodyCase == CoordinatorMessage.BodyOneofCase.ReportAck)
                    {
                        break;
                    }
                }

                await Task.Delay(100);
            }
        });
        Assert.Equal(StatusCode.Unauthenticated, cut.StatusCode);
        Assert.Contains("no longer valid", cut.Status.Detail, StringComparison.Ordinal);

        await Poll.UntilAsync(async () =>
        {
            using var channel = Channel(_n1Certificate);
            using var call = new AgentLink.AgentLinkClient(channel).Connect();
            try
            {
                await call.RequestStream.WriteAsync(new AgentMessage { Registration = new Registration { Resource = "cache", Node = "n1" } });
                await call.ResponseStream.MoveNext();
                return false;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
            {
                Assert.Contains("revoked", e.Status.Detail, StringComparison.Ordinal);
                return true;
            }
        }, TimeSpan.FromSeconds(10), () => "the revoked certificate refused");
        Assert.Contains(_coordinator.Logs.Entries, e => e.EventId == 2070);
    }

    [Fact]
    public async Task A_token_rotated_in_the_file_is_in_force_without_a_restart_and_a_broken_file_keeps_the_last_good_one()
    {
        const string rotated = "rotated-grafana-token-0123";
        WriteCredentials(replaceRead: rotated);

        await Poll.UntilAsync(async () =>
        {
            try
            {
                await Admin().GetStatusAsync(new ResourceRequest { Resource = "cache" }, Bearer(rotated));
                return true;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(10), () => "the rotated token accepted");
        var old = await Assert.ThrowsAsync<RpcException>(async () => await Admin().GetStatusAsync(new ResourceRequest { Resource = "cache" }, Bearer(ReadToken)));
        Assert.Equal(StatusCode.Unauthenticated, old.StatusCode);

        File.WriteAllText(CredentialsFile, "read grafana not-a-proof\n");
        // The file is looked at again on a call (once a second at most): each call here is one, and each must pass.
        await Poll.UntilAsync(async () =>
        {
            await Admin().GetStatusAsync(new ResourceRequest { Resource = "cache" }, Bearer(rotated));
            return _coordinator.Logs.Entries.Any(e => e.EventId == 2071);
        }, TimeSpan.FromSeconds(10), () => "the broken file reported");
        await Admin().GetStatusAsync(new ResourceRequest { Resource = "cache" }, Bearer(rotated));
    }

    [Fact]
    public async Task A_client_certificate_from_another_CA_or_out_of_date_is_refused_and_the_caller_and_the_log_are_told_which()
    {
        using var other = new TestCertificates();
        var foreign = other.IssueClient("cache/n1");
        var expired = _certificates.IssueClient("cache/n1", DateTimeOffset.UtcNow.AddMinutes(-4), DateTimeOffset.UtcNow.AddMinutes(-1));

        // .NET's TLS on Linux sends no alert for a refused certificate, so the coordinator lets the
        // handshake complete and refuses every call with the reason: the caller learns what to fix
        // (before, it saw only a closed connection).
        foreach (var (certificate, reason) in new[] { (foreign, "is not signed by the CA the coordinator trusts for clients"), (expired, "expired on") })
        {
            using var channel = Channel(certificate);
            using var call = new AgentLink.AgentLinkClient(channel).Connect();
            var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            {
                await call.RequestStream.WriteAsync(new AgentMessage { Registration = new Registration { Resource = "cache", Node = "n1" } });
                await call.ResponseStream.MoveNext();
            });
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
            Assert.Contains(reason, refused.Status.Detail, StringComparison.Ordinal);
            Assert.DoesNotContain(_certificates.CaFile, refused.Status.Detail, StringComparison.Ordinal);

            // Nor does the refused certificate read anything: a reader's call fails the same way.
            var read = await Assert.ThrowsAsync<RpcException>(() => new Admin.AdminClient(channel).GetStatusAsync(new ResourceRequest { Resource = "cache" }).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, read.StatusCode);
        }

        await Poll.UntilAsync(() => _coordinator.Logs.Entries.Count(e => e.EventId == 2075) >= 2, TimeSpan.FromSeconds(5), () => _coordinator.Logs.Text);
        var lines = _coordinator.Logs.Entries.Where(e => e.EventId == 2075).Select(e => e.Message).ToList();
        Assert.Contains(lines, l => l.Contains("is not signed by the CA the coordinator trusts for clients", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("expired on", StringComparison.Ordinal));
        Assert.DoesNotContain(_coordinator.Coordinator["cache"]!.Machine.Nodes, n => n.Connected);
    }

    [Fact]
    public async Task A_renewed_certificate_is_served_without_a_restart()
    {
        var renewed = _certificates.IssueServer(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(2));

        // Key first, then certificate, as a renewal script writes them: the pair is read once both match.
        File.Copy(renewed.KeyFile, _certificates.ServerKeyFile, overwrite: true);
        File.Copy(renewed.CertFile, _certificates.ServerCertificateFile, overwrite: true);

        var pin = agent::RedisShared.Security.TlsTrust.Create(null, renewed.Sha256);
        await Poll.UntilAsync(async () =>
        {
            using var handler = new SocketsHttpHandler();
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => pin.Validate(certificate, errors);
            using var channel = GrpcChannel.ForAddress(_coordinator.Url, new GrpcChannelOptions { HttpHandler = handler });
            try
            {
                await new Admin.AdminClient(channel).GetStatusAsync(new ResourceRequest { Resource = "cache" }, Bearer(ReadToken));
                return true;
            }
            catch (RpcException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(15), () => "the renewed certificate served\n" + _coordinator.Logs.Text);
        Assert.Contains(_coordinator.Logs.Entries, e => e.EventId == 2073);
    }

    private static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private void WriteCredentials(string extra = "", string replaceRead = ReadToken)
    {
        var text = $"""
            # role  name      proof
            agent   cache/n1  sha256:{Hash(N1Token)}
            agent   cache/n1  certificate
            agent   cache/n2  sha256:{Hash(N2Token)}
            read    grafana   sha256:{Hash(replaceRead)}
            admin   alice     sha256:{Hash(AdminToken)}   # an operator
            {extra}

            """;
        var temporary = CredentialsFile + ".tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, CredentialsFile, overwrite: true);
    }

    private static Metadata Bearer(string token) => new() { { "authorization", "Bearer " + token } };

    private GrpcChannel? _adminChannel;

    private Admin.AdminClient Admin() => new(_adminChannel ??= Channel());

    /// <summary>A channel that trusts only the test CA, presenting <paramref name="client"/> when given.</summary>
    private GrpcChannel Channel((string CertFile, string KeyFile, string Sha256)? client = null)
    {
        var trust = agent::RedisShared.Security.TlsTrust.Create(_certificates.CaFile, null);
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => trust.Validate(certificate, errors);
        if (client is { } pair)
        {
            using var pem = X509Certificate2.CreateFromPemFile(pair.CertFile, pair.KeyFile);
            handler.SslOptions.ClientCertificates = [X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null)];
        }

        return GrpcChannel.ForAddress(_coordinator.Url, new GrpcChannelOptions { HttpHandler = handler });
    }
}
