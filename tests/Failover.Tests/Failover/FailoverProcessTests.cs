using RedisAgent.Testing;
using System.Diagnostics;

namespace RedisAgent.Tests.Failover;

/// <summary>The redis-failover binary itself: bad configuration stops it at start, naming the keys.</summary>
public sealed class FailoverProcessTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly string Binary = Binaries.Path("redis-failover");

    [Theory]
    [InlineData("Failover__Token=short", "Failover:Token must be at least 16 characters")]
    [InlineData("Failover__Token=", "Failover:CredentialsFile (a credential per agent and operator, docs/security.md) or Failover:Token")]
    [InlineData("Resources__0__PasswordFile=/nonexistent/password", "Resources:0:PasswordFile '/nonexistent/password' cannot be read")]
    [InlineData("Resources__0__Nodes__0__Address=nowhere", "Resources:0:Nodes:0:Address must be host:port (got 'nowhere')")]
    [InlineData("Failover__RoundInterval=00:05:00", "Failover:RoundInterval must be greater than zero and at most Failover:Window")]
    [InlineData("Failover__Quorum=0", "Failover:Quorum must be at least 1")]
    [InlineData("Failover__Quorum=2", "Failover:Quorum 2 is more than resource cache's 1 vantage nodes")]
    [InlineData("Failover__Window=abc", "Failover:Window")]
    [InlineData("Urls=garbage", "Urls: 'garbage' is not an address to listen on")]
    [InlineData("Failover__StoreDirectory=/proc/version/store", "Failover:StoreDirectory '/proc/version/store' cannot be written")]
    [InlineData("Resources__0__Name=../../x", "Resources:0:Name '../../x' must be 1 to 64 letters")]
    [InlineData("Resources__0__Nodes__0__Address=127.0.0.1:0", "Resources:0:Nodes:0:Address must be host:port (got '127.0.0.1:0'), the port from 1 to 65535")]
    [InlineData("Resources__0__Nodes__0__Address=127.0.0.1:99999", "Resources:0:Nodes:0:Address must be host:port (got '127.0.0.1:99999')")]
    [InlineData("Resources__0__Timeout=9999999999999", "Resources:0:Timeout must be 0 (never) to 2147483647 seconds")]
    [InlineData("Resources__0__Timeout=abc", "Resources:0:Timeout")]
    [InlineData("Resources__0__MaxmemoryPolicy=bogus", "Resources:0:MaxmemoryPolicy 'bogus' is not one of noeviction")]
    [InlineData("Resources__0__UrlFile=/nonexistent/dir/cache.env", "Resources:0:UrlFile '/nonexistent/dir/cache.env' cannot be written: its directory '/nonexistent/dir' does not exist")]
    [InlineData("Failover__MaxConnections=0", "Failover:MaxConnections must be 1 to 1000000 (got 0)")]
    [InlineData("Failover__MaxConnectionsPerClient=0", "Failover:MaxConnectionsPerClient must be 1 to 1000000 (got 0)")]
    [InlineData("Resources__0__UrlFileMode=999", "Resources:0:UrlFileMode '999' must be an octal file mode")]
    [InlineData("Resources__0__UrlFileGroup=no-such-group-here", "Resources:0:UrlFileGroup 'no-such-group-here' is not a group")]
    [InlineData("Failover__DashboardUrl=http://192.0.2.10:9382", "Failover:DashboardUrl 'http://192.0.2.10:9382' is plain http:// on an address other than loopback")]
    [InlineData("Failover__DashboardUrl=ftp://127.0.0.1:9382", "Failover:DashboardUrl 'ftp://127.0.0.1:9382' must be http://host:port or https://host:port")]
    [InlineData("Failover__DashboardResolution=00:00:00.100", "Failover:DashboardResolution must be from 1 second to 10 minutes")]
    [InlineData("Sentinel__TlsUrls=127.0.0.1:26390", "Sentinel:TlsUrls serves the coordinator's certificate: set Failover:Tls:CertFile and Failover:Tls:KeyFile")]
    [InlineData("Sentinel__TlsUrls=db-1:26390", "Sentinel:TlsUrls 'db-1:26390' must be an IP address and a port")]
    [InlineData("FAILOVER__TOKEN=another-token-of-enough-length", "two names with different values: 'FAILOVER__TOKEN' and 'Failover__Token'")]
    public async Task Bad_configuration_stops_it_with_exit_78_naming_the_key(string setting, string expected)
    {
        using var store = new RedisAgent.Testing.TempDirectory("failover-config");
        var environment = Configuration(store.Path);
        var (key, value) = (setting[..setting.IndexOf('=', StringComparison.Ordinal)], setting[(setting.IndexOf('=', StringComparison.Ordinal) + 1)..]);
        environment[key] = value;

        var (code, stderr, stdout) = await RunAsync(environment);

        Assert.True(code == 78, $"exit {code}\n{stderr}\n{stdout}");
        Assert.Contains("redis-failover: configuration error:", stderr, StringComparison.Ordinal);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("a-token-of-enough-length", stderr + stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr + stdout, StringComparison.Ordinal);
    }

    /// <summary>A record that cannot be read names its file and says how to go on; never a crash with a stack trace.</summary>
    [Theory]
    [InlineData("{not json")]
    [InlineData("{\"term\": -5}")]
    [InlineData("null")]
    public async Task A_corrupt_store_record_stops_it_with_exit_78_naming_the_file(string content)
    {
        using var store = new RedisAgent.Testing.TempDirectory("failover-corrupt");
        await File.WriteAllTextAsync(store.File("cache.state.json"), content);

        var (code, stderr, stdout) = await RunAsync(Configuration(store.Path));

        Assert.True(code == 78, $"exit {code}\n{stderr}\n{stdout}");
        Assert.Contains($"the store's record '{store.File("cache.state.json")}' cannot be read", stderr, StringComparison.Ordinal);
        Assert.Contains("move it aside", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr + stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--help", 0, "usage:")]
    [InlineData("-h", 0, "usage:")]
    [InlineData("--version", 0, "redis-failover ")]
    [InlineData("frobnicate", 64, "unknown verb 'frobnicate'")]
    [InlineData("--frobnicate", 64, "unknown option '--frobnicate'")]
    [InlineData("--Failover:Window", 64, "needs a value")]
    [InlineData("--Failover:Window=soon", 78, "Failover:Window")]
    [InlineData("--Resources:0:Timeout=abc", 78, "Resources:0:Timeout")]
    // Issue 13: https:// without a certificate (it was exit 134 and a stack trace), plain http:// beyond loopback, an unreadable credentials file.
    [InlineData("--Urls=https://127.0.0.1:0", 78, "set Failover:Tls:CertFile and Failover:Tls:KeyFile")]
    [InlineData("--Urls=http://0.0.0.0:0", 78, "is plain http:// on an address other than loopback")]
    [InlineData("--Failover:CredentialsFile=/nonexistent/credentials", 78, "Failover:CredentialsFile cannot be used")]
    [InlineData("--Failover:Tls:CertFile=/nonexistent/cert.pem", 78, "Failover:Tls:CertFile '/nonexistent/cert.pem'")]
    public async Task The_command_line_is_checked_before_anything_starts(string argument, int expectedCode, string expected)
    {
        using var store = new RedisAgent.Testing.TempDirectory("failover-cli");

        var (code, stderr, stdout) = await RunAsync(Configuration(store.Path), argument);

        Assert.True(code == expectedCode, $"exit {code}\n{stderr}\n{stdout}");
        Assert.Contains(expected, stderr + stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", stdout, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(store.Path));
    }

    /// <summary>A mistyped key, in the environment or in the configuration file, is an error naming it and where it came from, not a default used in silence.</summary>
    [Fact]
    public async Task A_key_that_is_no_setting_stops_the_coordinator_naming_the_key_and_its_source()
    {
        using var store = new RedisAgent.Testing.TempDirectory("failover-keys");
        var file = Path.Combine(store.Path, "failover.json");
        await File.WriteAllTextAsync(file, """{ "Failover": { "Windw": "00:00:05" } }""");
        var environment = Configuration(store.Path);
        environment["Resources__0__Nodes__1__Adress"] = "127.0.0.1:6381";
        environment[RedisFailover.Hosting.FailoverHost.ConfigFileVariable] = file;

        var (code, stderr, stdout) = await RunAsync(environment);

        Assert.True(code == RedisFailover.Hosting.FailoverHost.ConfigurationErrorExitCode, $"exit {code}\n{stderr}\n{stdout}");
        Assert.Contains($"Failover:Windw (given by the file '{file}')", stderr, StringComparison.Ordinal);
        Assert.Contains("Resources:0:Nodes:1:Adress (given by the environment, Resources__0__Nodes__1__Adress)", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("00:00:05", stderr, StringComparison.Ordinal);
    }

    /// <summary>
    /// A fleet's configuration is read in time linear in its keys: 3,000 resources (9,000 nodes) in one
    /// file start in seconds. Before, the key check and the resources' binding each asked the
    /// configuration for every section's children, a scan of every key each: 22 s of a core for
    /// 5,000 nodes, about 40 s for this file. A typo in the last node and a bad value are still named.
    /// </summary>
    [Fact]
    public async Task A_fleet_of_nine_thousand_nodes_starts_in_seconds_and_its_last_key_is_still_checked()
    {
        using var store = new RedisAgent.Testing.TempDirectory("failover-large");
        var file = Path.Combine(store.Path, "fleet.json");
        string Fleet(string lastNode) => "{ \"Resources\": [ " + string.Join(", ", Enumerable.Range(0, 3000).Select(r =>
            $$"""{ "Name": "r{{r}}", "Nodes": [ { "Name": "r{{r}}a", "Address": "127.0.{{r / 250}}.{{r % 250 + 1}}:6379" }, { "Name": "r{{r}}b", "Address": "127.0.{{r / 250}}.{{r % 250 + 1}}:6380" }, { "Name": "r{{r}}c", {{(r == 2999 ? lastNode : "\"Address\"")}}: "127.0.{{r / 250}}.{{r % 250 + 1}}:6381" } ] }""")) + " ] }";
        var environment = Configuration(store.Path);
        foreach (var key in environment.Keys.Where(k => k.StartsWith("Resources__", StringComparison.Ordinal)).ToList())
        {
            environment.Remove(key);
        }

        environment[RedisFailover.Hosting.FailoverHost.ConfigFileVariable] = file;
        await File.WriteAllTextAsync(file, Fleet("\"Address\""));
        var clock = Stopwatch.StartNew();
        await using (var coordinator = AgentProcess.StartBinary(Binary, environment))
        {
            await coordinator.WaitForOutputAsync("Application started", TimeSpan.FromSeconds(60));
            output.WriteLine($"3,000 resources: started in {clock.Elapsed.TotalSeconds:0.00} s");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"3,000 resources took {clock.Elapsed.TotalSeconds:0.0} s to start");
        }

        await File.WriteAllTextAsync(file, Fleet("\"Adress\""));
        clock.Restart();
        var (code, stderr, _) = await RunAsync(environment);
        Assert.True(code == RedisFailover.Hosting.FailoverHost.ConfigurationErrorExitCode, $"exit {code}\n{stderr}");
        Assert.Contains($"Resources:2999:Nodes:2:Adress (given by the file '{file}')", stderr, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the check took {clock.Elapsed.TotalSeconds:0.0} s");

        environment["Resources__2999__Nodes__2__Address"] = "nowhere";
        await File.WriteAllTextAsync(file, Fleet("\"Address\""));
        (code, stderr, _) = await RunAsync(environment);
        Assert.True(code == RedisFailover.Hosting.FailoverHost.ConfigurationErrorExitCode, $"exit {code}\n{stderr}");
        Assert.Contains("Resources:2999:Nodes:2:Address must be host:port (got 'nowhere')", stderr, StringComparison.Ordinal);
    }

    /// <summary>A bad --url, an option without its value, no resource or no credentials: one line naming it, exit 64, nothing sent (it was a stack trace and exit 134 for a bad --url, the default address for a value left out).</summary>
    [Theory]
    [InlineData("status -r cache --url garbage", "--url 'garbage' is not a coordinator's address")]
    [InlineData("status -r cache --url ftp://127.0.0.1:9380", "--url 'ftp://127.0.0.1:9380' is not a coordinator's address")]
    [InlineData("status -r cache --url http://admin:Sekr1t-pass@127.0.0.1:9380", "--url must not hold a user or password")]
    [InlineData("status -r cache --url http://127.0.0.1:9380/admin", "--url 'http://127.0.0.1:9380/admin' has a path")]
    [InlineData("status -r cache --url", "--url needs a value")]
    [InlineData("status -r --json", "-r needs a value")]
    [InlineData("timeout -r cache --seconds", "--seconds needs a value")]
    [InlineData("status --url http://127.0.0.1:9380", "status needs -r RESOURCE")]
    public async Task The_CLI_names_what_is_wrong_with_its_arguments(string arguments, string expected)
    {
        var (code, stderr, stdout) = await RunAsync(new() { ["FAILOVER_TOKEN"] = "a-token-of-enough-length" }, arguments.Split(' '));

        Assert.True(code == RedisFailover.Cli.AdminCommand.UsageExitCode, $"exit {code}\n{stderr}\n{stdout}");
        Assert.StartsWith("redis-failover: " + expected, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Sekr1t-pass", stderr + stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_CLI_without_credentials_says_where_they_come_from()
    {
        var (code, stderr, _) = await RunAsync(new() { ["FAILOVER_TOKEN"] = "" }, "status", "-r", "cache");

        Assert.Equal(RedisFailover.Cli.AdminCommand.UsageExitCode, code);
        Assert.StartsWith("redis-failover: no credentials: set $FAILOVER_TOKEN, or give --token-file FILE", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_CLI_refuses_a_token_on_its_command_line()
    {
        var (code, stderr, _) = await RunAsync([], "status", "-r", "cache", "--token", "a-token-of-enough-length");

        Assert.Equal(64, code);
        Assert.Contains("--token-file", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("a-token-of-enough-length", stderr, StringComparison.Ordinal);
    }

    /// <summary>
    /// A NativeAOT binary starts at the soft open-file limit (1024 under systemd; .NET's JIT runtime
    /// raises it, NativeAOT does not): the coordinator raises it to the hard limit itself, and when even
    /// that cannot hold its listeners' connections it holds fewer, and says so.
    /// </summary>
    [Fact]
    public async Task The_open_file_limit_is_raised_to_the_hard_limit_and_the_connections_held_below_it()
    {
        using var store = new RedisAgent.Testing.TempDirectory("failover-nofile");
        var environment = Configuration(store.Path);
        environment["Sentinel__Urls"] = $"127.0.0.1:{LoopbackPorts.Free()}";
        await using var coordinator = AgentProcess.StartBinary("prlimit", environment, "--nofile=400:4096", Binary);
        await coordinator.WaitForOutputAsync("Application started", TimeSpan.FromSeconds(30));

        var line = File.ReadLines($"/proc/{coordinator.ProcessId}/limits").First(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        Assert.Equal(["4096", "4096"], line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(2));
        // 4,096 less 256 kept, shared in proportion between 10,000 callers and 10,000 Sentinel clients.
        Assert.Contains("the gRPC endpoints hold at most 1920 connections (Failover:MaxConnections 10000) and the Sentinel endpoint 1920 (Sentinel:MaxConnections 10000)", coordinator.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Connections past Failover:MaxConnections are closed as they come, counted with the refused calls
    /// and said once a minute (event 2006), never a line each (Kestrel's own warning is kept out).
    /// </summary>
    [Fact]
    public async Task Connections_past_the_bound_are_refused_counted_and_said_once()
    {
        using var store = new RedisAgent.Testing.TempDirectory("failover-maxconn");
        var environment = Configuration(store.Path);
        var port = LoopbackPorts.Free();
        var metrics = $"http://127.0.0.1:{LoopbackPorts.Free()}";
        environment["Urls"] = $"http://127.0.0.1:{port}";
        environment["Failover__MetricsUrl"] = metrics;
        environment["Failover__MaxConnections"] = "5";
        await using var coordinator = AgentProcess.StartBinary(Binary, environment);
        await coordinator.WaitForOutputAsync("Application started", TimeSpan.FromSeconds(30));

        var flood = new List<System.Net.Sockets.Socket>();
        try
        {
            for (var i = 0; i < 25; i++)
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                flood.Add(socket);
                await socket.ConnectAsync("127.0.0.1", port);
            }

            await coordinator.WaitForOutputAsync("Refused a call from a new connection", TimeSpan.FromSeconds(30));
        }
        finally
        {
            flood.ForEach(s => s.Dispose());
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var text = "";
        await Poll.UntilAsync(
            async () =>
            {
                try
                {
                    text = await http.GetStringAsync($"{metrics}/metrics");
                    return System.Text.RegularExpressions.Regex.Match(text, @"^redis_failover_refused_calls_total (\d+)", System.Text.RegularExpressions.RegexOptions.Multiline) is { Success: true } m
                        && long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 20;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(30),
            () => $"at least 20 refusals were not counted:\n{text}\n{coordinator.Output}");
        Assert.Equal(1, System.Text.RegularExpressions.Regex.Count(coordinator.Output, "Refused a call from a new connection"));
        Assert.DoesNotContain("rejected because the maximum number of concurrent connections", coordinator.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// One address holding idle connections takes at most Failover:MaxConnectionsPerClient of them; its
    /// next are closed as they come (refused calls, said once a minute with the address), and another
    /// client is still served though the flood is larger than Failover:MaxConnections. Before, the
    /// flood took every connection, and the agents could not reach their coordinator until it went.
    /// </summary>
    [Fact]
    public async Task One_client_holding_idle_connections_cannot_take_another_client_s_place()
    {
        using var store = new RedisAgent.Testing.TempDirectory("failover-perclient");
        var environment = Configuration(store.Path);
        var port = LoopbackPorts.Free();
        var metricsPort = LoopbackPorts.Free();
        environment["Urls"] = $"http://127.0.0.1:{port}";
        environment["Failover__MetricsUrl"] = $"http://127.0.0.1:{metricsPort}";
        environment["Failover__MaxConnections"] = "20";
        environment["Failover__MaxConnectionsPerClient"] = "5";
        await using var coordinator = AgentProcess.StartBinary(Binary, environment);
        await coordinator.WaitForOutputAsync("Application started", TimeSpan.FromSeconds(30));

        var flood = new List<System.Net.Sockets.Socket>();
        try
        {
            for (var i = 0; i < 30; i++)
            {
                flood.Add(await ConnectFromAsync("127.0.0.2", port));
            }

            await coordinator.WaitForOutputAsync("Refused a call from 127.0.0.2: closed as it came: this client holds the most connections one may (Failover:MaxConnectionsPerClient)", TimeSpan.FromSeconds(30));
            var closed = 0;
            foreach (var socket in flood)
            {
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                try
                {
                    closed += await socket.ReceiveAsync(new byte[64], System.Net.Sockets.SocketFlags.None, wait.Token) == 0 ? 1 : 0;
                }
                catch (OperationCanceledException)
                {
                    // Still open: one of the five it may hold (it waits for an HTTP/2 preface).
                }
                catch (System.Net.Sockets.SocketException)
                {
                    closed++;
                }
            }

            Assert.Equal(25, closed);
            // Another client is served while the five are held.
            using var other = await ConnectFromAsync("127.0.0.3", metricsPort);
            await other.SendAsync(System.Text.Encoding.ASCII.GetBytes($"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{metricsPort}\r\nConnection: close\r\n\r\n"), System.Net.Sockets.SocketFlags.None);
            using var reader = new StreamReader(new System.Net.Sockets.NetworkStream(other));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var text = await reader.ReadToEndAsync(timeout.Token);
            Assert.True(text.StartsWith("HTTP/1.1 200 OK", StringComparison.Ordinal), $"[{text}]\n{coordinator.Output}");
            var refused = System.Text.RegularExpressions.Regex.Match(text, @"^redis_failover_refused_calls_total (\d+)", System.Text.RegularExpressions.RegexOptions.Multiline);
            Assert.True(refused.Success && long.Parse(refused.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 25, text);
        }
        finally
        {
            flood.ForEach(s => s.Dispose());
        }

        Assert.Equal(1, System.Text.RegularExpressions.Regex.Count(coordinator.Output, "Refused a call from 127.0.0.2"));
    }

    private static async Task<System.Net.Sockets.Socket> ConnectFromAsync(string source, int port)
    {
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Parse(source), 0));
        await socket.ConnectAsync(System.Net.IPAddress.Loopback, port);
        return socket;
    }

    [Theory]
    [InlineData(null, 10_000, 10_000, 10_000, 10_000)]
    [InlineData(65_536L, 10_000, 10_000, 10_000, 10_000)]
    [InlineData(1_024L, 10_000, 10_000, 384, 384)]
    [InlineData(1_024L, 1_000, 10_000, 69, 698)]
    [InlineData(20_000L, 1_000, 10_001, 1_000, 10_001)]
    [InlineData(100L, 10_000, 10_000, 1, 1)]
    public void Listeners_share_what_the_open_file_limit_holds_in_proportion_to_what_each_asks(long? limit, int callers, int clients, int expectedCallers, int expectedClients)
    {
        var sentinel = new RedisFailover.Sentinel.SentinelOptions { Urls = "127.0.0.1:26379", MaxConnections = clients };

        Assert.Equal(expectedCallers, sentinel.CallerConnectionsUnder(limit, callers));
        Assert.Equal(expectedClients, sentinel.MaxConnectionsUnder(limit, callers));
    }

    [Fact]
    public async Task Sighup_is_ignored_and_said_so()
    {
        using var store = new RedisAgent.Testing.TempDirectory("failover-hup");
        var environment = Configuration(store.Path);
        await using var coordinator = RedisAgent.Testing.AgentProcess.StartBinary(Binary, environment);
        await coordinator.WaitForOutputAsync("Application started", TimeSpan.FromSeconds(30));

        coordinator.Signal(RedisAgent.Testing.Signals.SigHup);

        await coordinator.WaitForOutputAsync("SIGHUP ignored", TimeSpan.FromSeconds(30));
        Assert.False(coordinator.HasExited);
        coordinator.Signal(RedisAgent.Testing.Signals.SigTerm);
        Assert.Equal(0, await coordinator.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    /// <summary>
    /// Issue 15: clients find the coordinator where they find a Sentinel, 127.0.0.1:26379, without a
    /// setting. That default taken (a real Sentinel beside it, mid-migration) is warned about and
    /// failover goes on; an address the operator chose that is taken stops the start, named.
    /// </summary>
    [Fact]
    public async Task The_sentinel_endpoint_listens_on_26379_by_default_and_a_taken_default_only_warns()
    {
        using var store = new RedisAgent.Testing.TempDirectory("failover-sentinel-default");
        var environment = Configuration(store.Path);
        environment.Remove("Sentinel__Urls");
        environment["Urls"] = $"http://127.0.0.1:{LoopbackPorts.Free()}";

        var holder = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 26379);
        holder.Start();
        try
        {
            await using var warned = AgentProcess.StartBinary(Binary, environment);
            await warned.WaitForOutputAsync("The Sentinel discovery endpoint is not served: its default address 127.0.0.1:26379 cannot be listened on", TimeSpan.FromSeconds(30));
            await warned.WaitForOutputAsync("Application started", TimeSpan.FromSeconds(30));
            Assert.False(warned.HasExited, warned.Output);

            var chosen = new Dictionary<string, string>(environment) { ["Sentinel__Urls"] = "127.0.0.1:26379" };
            var (code, stderr, stdout) = await RunAsync(chosen);
            Assert.True(code == 78, $"exit {code}\n{stderr}\n{stdout}");
            Assert.Contains("Sentinel:Urls: 127.0.0.1:26379 cannot be listened on", stderr, StringComparison.Ordinal);
        }
        finally
        {
            holder.Stop();
        }

        await using var listening = AgentProcess.StartBinary(Binary, environment);
        await Poll.UntilAsync(async () => await Resp.PingsAsync("127.0.0.1", 26379), TimeSpan.FromSeconds(30), () => listening.Output);
        // No agent has said which node is the primary yet: the resource is known, its primary not (a nil array, never a guess).
        Assert.StartsWith("name\ncache\n", await Resp.CommandAsync("127.0.0.1", 26379, "SENTINEL", "master", "cache"), StringComparison.Ordinal);
    }

    /// <summary>
    /// Issue 15's bad input at scale, against the binary: 10,000 idle clients, one past the bound, and
    /// 100,000 pipelined PINGs from a client that does not read while it sends. The endpoint keeps
    /// answering others at once, refuses the one too many in Redis's words, answers every flooded
    /// PING, and its memory stays bounded.
    /// </summary>

    /// <summary>A connection to the endpoint that answered a PING with PONG; null when it was refused (or answered otherwise).</summary>
    private static async Task<System.Net.Sockets.Socket?> AnsweredAsync(int port)
    {
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync("127.0.0.1", port).WaitAsync(TimeSpan.FromSeconds(5));
            await socket.SendAsync("PING\r\n"u8.ToArray(), System.Net.Sockets.SocketFlags.None);
            var reply = new List<byte>();
            var buffer = new byte[64];
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            while (!reply.Contains((byte)'\n'))
            {
                var read = await socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, deadline.Token);
                if (read == 0)
                {
                    break;
                }

                reply.AddRange(buffer.AsSpan(0, read).ToArray());
            }

            if (System.Text.Encoding.ASCII.GetString([.. reply]) == "+PONG\r\n")
            {
                return socket;
            }
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException or TimeoutException)
        {
        }

        socket.Dispose();
        return null;
    }
    [Fact]
    public async Task Ten_thousand_idle_sentinel_clients_and_a_pipelined_flood_leave_the_endpoint_answering()
    {
        const int Idle = 10_000;
        const int Flood = 100_000;
        using var store = new RedisAgent.Testing.TempDirectory("failover-sentinel-load");
        var environment = Configuration(store.Path);
        var port = LoopbackPorts.Free();
        environment["Sentinel__Urls"] = $"127.0.0.1:{port}";
        environment["Sentinel__MaxConnections"] = (Idle + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        // Beside the gRPC endpoints' connections, below the open-file limit (20,000 on some test machines).
        environment["Failover__MaxConnections"] = "1000";
        await using var coordinator = AgentProcess.StartBinary(Binary, environment);
        await Poll.UntilAsync(() => Resp.PingsAsync("127.0.0.1", port), TimeSpan.FromSeconds(30), () => coordinator.Output);

        var idle = new List<System.Net.Sockets.Socket>(Idle);
        try
        {
            for (var i = 0; i < Idle; i++)
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                idle.Add(socket);
                await socket.ConnectAsync("127.0.0.1", port).WaitAsync(TimeSpan.FromSeconds(10));
            }

            // Each idle client is accepted and waiting: the next is the last one allowed, and it is served at once.
            var clock = Stopwatch.StartNew();
            await using (var last = await RespClient.ConnectAsync("127.0.0.1", port))
            {
                Assert.Equal("PONG", await last.CommandAsync("PING").WaitAsync(TimeSpan.FromSeconds(10)));
                output.WriteLine($"PING beside {Idle} idle clients: {clock.Elapsed.TotalMilliseconds:0} ms");
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"{clock.Elapsed.TotalSeconds:0.0} s");

                await using var tooMany = await RespClient.ConnectAsync("127.0.0.1", port);
                Assert.Equal("-ERR max number of clients reached", await tooMany.ReadReplyAsync().WaitAsync(TimeSpan.FromSeconds(10)));
            }

            var rss = ResidentMegabytes(coordinator.ProcessId);
            output.WriteLine($"coordinator resident with {Idle} idle clients: {rss} MB");
            Assert.True(rss < 1024, $"{rss} MB resident with {Idle} idle clients");

            // Room for the flood and a bystander.
            foreach (var socket in idle.Take(10))
            {
                socket.Dispose();
            }

            // The endpoint frees a closed client's place once it reads that client's end, so a connection
            // made just after the closes may still be refused (-ERR max number of clients reached): the
            // flood's connection is the first one answered PONG.
            System.Net.Sockets.Socket? flood = null;
            await Poll.UntilAsync(async () => (flood = await AnsweredAsync(port)) is not null, TimeSpan.FromSeconds(10), () => "the closed clients' places are freed");
            using var _ = flood;
            var pings = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("PING\r\n", Flood)));
            var sending = flood!.SendAsync(pings, System.Net.Sockets.SocketFlags.None);

            // While the flood's replies pile up unread, another client is answered.
            clock.Restart();
            await using (var bystander = await RespClient.ConnectAsync("127.0.0.1", port))
            {
                Assert.Equal("PONG", await bystander.CommandAsync("PING").WaitAsync(TimeSpan.FromSeconds(10)));
            }

            output.WriteLine($"PING beside an unread flood: {clock.Elapsed.TotalMilliseconds:0} ms");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"{clock.Elapsed.TotalSeconds:0.0} s");

            // Every PING of the flood is answered once its client reads.
            var expected = Flood * "+PONG\r\n".Length;
            var received = 0L;
            var buffer = new byte[1 << 16];
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (received < expected)
            {
                var read = await flood.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, deadline.Token);
                Assert.True(read > 0, $"closed after {received} of {expected} bytes");
                received += read;
            }

            Assert.Equal(pings.Length, await sending.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(expected, received);
            rss = ResidentMegabytes(coordinator.ProcessId);
            output.WriteLine($"coordinator resident after the flood: {rss} MB");
            Assert.True(rss < 1024, $"{rss} MB resident after the flood");
            Assert.False(coordinator.HasExited, coordinator.Output);
        }
        finally
        {
            foreach (var socket in idle)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>
    /// Issue 17: with no agent ever connected the resource is Degraded with no primary known; status
    /// says a failover is impossible and why, and wait gives up after its --timeout with exit 75.
    /// </summary>
    [Fact]
    public async Task Wait_gives_up_with_exit_75_and_status_says_why_no_failover_could_happen()
    {
        using var store = new RedisAgent.Testing.TempDirectory("failover-wait");
        var environment = Configuration(store.Path);
        var port = LoopbackPorts.Free();
        environment["Urls"] = $"http://127.0.0.1:{port}";
        await using var coordinator = AgentProcess.StartBinary(Binary, environment);
        await coordinator.WaitForOutputAsync("Application started", TimeSpan.FromSeconds(30));
        var client = new Dictionary<string, string> { ["FAILOVER_TOKEN"] = "a-token-of-enough-length" };

        var (code, stderr, stdout) = await RunAsync(client, "status", "-r", "cache", "--url", $"http://127.0.0.1:{port}");
        Assert.True(code == 0, stderr);
        Assert.Contains("failover impossible now: no primary is known yet", stdout, StringComparison.Ordinal);

        var clock = Stopwatch.StartNew();
        (code, stderr, stdout) = await RunAsync(client, "wait", "-r", "cache", "--timeout", "1", "--url", $"http://127.0.0.1:{port}");
        Assert.True(code == 75, $"exit {code}: {stderr}");
        Assert.Contains("redis-failover: cache is Degraded, not Healthy, after 1 s: no primary known yet", stderr, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"{clock.Elapsed.TotalSeconds:0.0} s");
    }

    private static long ResidentMegabytes(int processId) =>
        long.Parse(File.ReadLines($"/proc/{processId}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024;

    private static Dictionary<string, string> Configuration(string store) => new()
    {
        ["Failover__Token"] = "a-token-of-enough-length",
        ["Failover__StoreDirectory"] = store,
        ["Resources__0__Name"] = "cache",
        ["Resources__0__Nodes__0__Name"] = "a",
        ["Resources__0__Nodes__0__Address"] = "127.0.0.1:6379",
        ["Resources__0__Nodes__1__Name"] = "b",
        ["Resources__0__Nodes__1__Address"] = "127.0.0.1:6380",
        ["Urls"] = "http://127.0.0.1:0",
        // Sentinel's default port stays free for the one test of the default.
        ["Sentinel__Urls"] = "",
    };

    private static async Task<(int Code, string Stderr, string Stdout)> RunAsync(Dictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(Binary, arguments) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return (process.ExitCode, await stderr, await stdout);
    }
}
