using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisFailover.Coordination;
using RedisFailover.Services;
using RedisFailover.Store;

namespace RedisFailover.Hosting;

/// <summary>Builds and runs the coordinator; tests build it the same way.</summary>
internal static partial class FailoverHost
{
    public const int ConfigurationErrorExitCode = RedisShared.Hosting.ExitCodes.Config;

    /// <summary>An optional JSON configuration file (same keys as appsettings.json).</summary>
    public const string ConfigFileVariable = "REDIS_FAILOVER_CONFIG";

    public const string DefaultUrls = "http://127.0.0.1:9380";

    /// <summary>sysexits.h EX_SOFTWARE: failed for a reason other than the configuration; systemd restarts it.</summary>
    public const int FatalExitCode = RedisShared.Hosting.ExitCodes.Software;

    /// <summary>The configuration sections (and top-level keys) a command-line override may name.</summary>
    public static readonly IReadOnlyDictionary<string, Type?> ConfigurationSections = new Dictionary<string, Type?>
    {
        [FailoverOptions.Section] = typeof(FailoverOptions),
        [ResourcesOptions.Section] = typeof(List<ResourceOptions>),
        [RedisFailover.Sentinel.SentinelOptions.Section] = typeof(RedisFailover.Sentinel.SentinelOptions),
        ["Urls"] = typeof(string),
        ["Logging"] = null,
        ["Kestrel"] = null,
    };

    public const string Usage = """
        redis-failover: confirms a lost Redis host from several places and promotes the standby.

        usage:
          redis-failover [--Section:Key=value ...]      run the coordinator (configuration: appsettings.json,
                                                        $REDIS_FAILOVER_CONFIG, the environment, then these)
          redis-failover status -r RESOURCE [--url URL]  the resource's state, term, primary, nodes, and
                                                        why a failover could not happen now
          redis-failover info -r RESOURCE               as heroku redis:info: settings, version, persistence
          redis-failover history -r RESOURCE            every incident's decision journal
          redis-failover timeout --seconds N -r RESOURCE     Redis's idle timeout, kept across failovers
          redis-failover maxmemory --policy P -r RESOURCE    the eviction policy (the eight of Heroku's plans)
          redis-failover switchover -r RESOURCE [--to NODE] [--catch-up-ms N]   planned, no write lost
          redis-failover promote NODE -r RESOURCE [--confirm RESOURCE]   force NODE to be the primary
          redis-failover pause|resume -r RESOURCE       automatic failover off (maintenance) or on
          redis-failover wait -r RESOURCE [--timeout S] block until the resource is Healthy
          redis-failover --help | --version
        Every verb takes --json, --url (default http://127.0.0.1:9380) and --ca-file for https://.

        The CLI's token comes from --token-file FILE or $FAILOVER_TOKEN (never a command-line value:
        ps shows those to every user). Exit codes: 0 done (or stopped), 1 refused by the coordinator
        or not confirmed, 64 usage or a bad value (named), 69 coordinator unreachable, 70 failed,
        75 wait ran out of time, 78 configuration or store error (named).
        """;

    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [.. args, RedisShared.Hosting.HostFaults.NoReload], ApplicationName = "redis-failover", ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?> { ["Urls"] = DefaultUrls, ["Sentinel:Urls"] = RedisFailover.Sentinel.SentinelOptions.DefaultUrls },
        });
        if (Environment.GetEnvironmentVariable(ConfigFileVariable) is { Length: > 0 } file)
        {
            // A JSON file of the same keys (a fleet's resources are too many for environment variables);
            // the environment and the command line still win over it.
            var path = Path.GetFullPath(file);
            if (!File.Exists(path))
            {
                throw new ConfigFileException($"{ConfigFileVariable}: '{path}' does not exist");
            }

            var json = new Microsoft.Extensions.Configuration.Json.JsonConfigurationSource { Path = path, Optional = false };
            json.ResolveFileProvider();
            var at = builder.Configuration.Sources.ToList().FindIndex(s => s is Microsoft.Extensions.Configuration.EnvironmentVariables.EnvironmentVariablesConfigurationSource);
            try
            {
                builder.Configuration.Sources.Insert(at < 0 ? builder.Configuration.Sources.Count : at, json);
            }
            catch (Exception ex) when (ex is FormatException or InvalidDataException)
            {
                throw new ConfigFileException($"{ConfigFileVariable}: '{path}' is not valid JSON: {ex.InnerException?.Message ?? ex.Message}");
            }
        }

        RedisShared.Hosting.SystemdIntegration.AddSystemdNotify(builder.Services);
        RedisShared.Hosting.HostFaults.QuietHostErrors(builder.Logging);
        // Sane levels without a settings file (the agent's appsettings.json would collide with one
        // in any output both are copied to): no line per HTTP request or gRPC call, and no stack
        // trace per malformed message; a handler's own failure is logged in one line by FaultInterceptor.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter(RedisShared.Hosting.KestrelRejections.Category, LogLevel.Error);
        builder.Logging.AddFilter("Grpc", LogLevel.Warning);
        builder.Logging.AddFilter("Grpc.AspNetCore.Server.ServerCallHandler", LogLevel.Critical);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        });
        // gRPC without TLS on loopback needs HTTP/2 without the upgrade dance.
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // At most Failover:MaxConnectionsPerClient connections from one client (the bound in all is below),
            // one more closed before a byte is read.
            var refusals = kestrel.ApplicationServices.GetRequiredService<RedisFailover.Services.RefusalLog>();
            var perClient = kestrel.ApplicationServices.GetRequiredService<IOptions<FailoverOptions>>().Value.MaxConnectionsPerClient;
            var clients = new RedisShared.Hosting.ClientConnections(Math.Max(1, perClient), client =>
                refusals.Refused(client.ToString(), "closed as it came: this client holds the most connections one may (Failover:MaxConnectionsPerClient)"));
            kestrel.ConfigureEndpointDefaults(listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                listen.Use(clients.Middleware);
            });
            // An agent whose connection went silent (a partition, not a close) is noticed within about
            // two seconds (an agent sends a report every second, so a second without a frame is
            // already news): its session ends, so status shows it not connected, it is no candidate,
            // and what was sent to it and not answered is journalled and sent again when it is back.
            kestrel.Limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(1);
            kestrel.Limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(1);
            // A bound on what callers can hold open (Kestrel's own default is none), shared with the
            // Sentinel endpoint's below the open-file limit, so that connections can never take every
            // descriptor (etcd's, the store's files, the agents' next connections).
            var sentinel = kestrel.ApplicationServices.GetRequiredService<IOptions<RedisFailover.Sentinel.SentinelOptions>>().Value;
            var callers = kestrel.ApplicationServices.GetRequiredService<IOptions<FailoverOptions>>().Value.MaxConnections;
            var limit = RedisShared.Hosting.DescriptorLimit.Current();
            var callersHeld = sentinel.CallerConnectionsUnder(limit, callers);
            var clientsHeld = sentinel.MaxConnectionsUnder(limit, callers);
            kestrel.Limits.MaxConcurrentConnections = callersHeld;
            if (callersHeld < callers || (sentinel.Endpoints().Count > 0 && clientsHeld < sentinel.MaxConnections))
            {
                Log.ConnectionsBounded(kestrel.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("RedisFailover.Hosting"),
                    limit!.Value, callersHeld, callers, clientsHeld, sentinel.MaxConnections, RedisShared.Hosting.DescriptorLimit.Reserved);
            }

            // https:// endpoints: the certificate from Failover:Tls (read again when renewed), and
            // client certificates when Failover:Tls:ClientCaFile names their CA.
            kestrel.ConfigureHttpsDefaults(https =>
            {
                var tls = kestrel.ApplicationServices.GetRequiredService<RedisFailover.Trust.ServerTls>();
                https.ServerCertificateSelector = (_, _) => tls.Current;
                https.SslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13;
                if (tls.AsksForClientCertificates)
                {
                    https.ClientCertificateMode = Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.AllowCertificate;
                    https.ClientCertificateValidation = tls.ValidateClient;
                }
            });
        });
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<FailoverOptions>().Bind(builder.Configuration.GetSection(FailoverOptions.Section)).ValidateOnStart();
        // One Bind per resource: binding a list whole silently drops an item with a bad value
        // (Resources:0:Timeout=abc would leave "no resource", naming the wrong key). Bound from a tree
        // read once: the root's sections cost a scan of every key each (a fleet's start went quadratic).
        services.AddOptions<ResourcesOptions>().Configure(o =>
        {
            foreach (var section in ConfigurationTree.Read(builder.Configuration, ResourcesOptions.Section).GetChildren())
            {
                var resource = new ResourceOptions();
                section.Bind(resource);
                o.Items.Add(resource);
            }
        }).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FailoverOptions>, FailoverOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ResourcesOptions>, ResourcesOptionsValidator>());
        services.TryAddSingleton(sp => new FileStore(StoreDirectory(sp.GetRequiredService<IOptions<FailoverOptions>>().Value), sp.GetRequiredService<ILogger<FileStore>>()));
        // The store is chosen when the services are first resolved (the configuration is whole only
        // then: tests add theirs after CreateBuilder). etcd: several coordinators, one leading.
        services.TryAddSingleton(sp => new EtcdConnection(sp.GetRequiredService<IOptions<FailoverOptions>>().Value.Etcd));
        // The leader key's renewals on connections of their own: never queued behind the store's writes.
        services.TryAddSingleton(sp => new RedisFailover.Leadership.EtcdLeadership(
            new EtcdConnection(sp.GetRequiredService<IOptions<FailoverOptions>>().Value.Etcd),
            sp.GetRequiredService<IOptions<FailoverOptions>>(), sp.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<RedisFailover.Leadership.EtcdLeadership>>()));
        services.TryAddSingleton<RedisFailover.Leadership.ILeadership>(sp => UsesEtcd(sp)
            ? sp.GetRequiredService<RedisFailover.Leadership.EtcdLeadership>()
            : new RedisFailover.Leadership.SoleLeadership());
        services.AddHostedService<RedisFailover.Leadership.Campaign>();
        services.TryAddSingleton<ICoordinatorStore>(sp => UsesEtcd(sp)
            ? ActivatorUtilities.CreateInstance<EtcdStore>(sp)
            : sp.GetRequiredService<FileStore>());
        services.TryAddSingleton<PrimaryPublisher>();
        services.TryAddSingleton<Coordinator>();
        services.AddHostedService(sp => sp.GetRequiredService<Coordinator>());
        services.AddHostedService(sp =>
        {
            // Alive while the coordinator ticks its resources (every 100 ms); 10 s without one is a hang.
            var coordinator = sp.GetRequiredService<Coordinator>();
            var time = sp.GetRequiredService<TimeProvider>();
            var started = time.GetUtcNow();
            return new RedisShared.Hosting.SystemdWatchdog(
                sp.GetService<Microsoft.Extensions.Hosting.Systemd.ISystemdNotifier>() ?? new Microsoft.Extensions.Hosting.Systemd.SystemdNotifier(),
                () =>
                {
                    var age = time.GetUtcNow() - (coordinator.LastTick > started ? coordinator.LastTick : started);
                    return age > TimeSpan.FromSeconds(10) ? $"the coordinator has not ticked for {age.TotalSeconds:0} s" : null;
                },
                time,
                sp.GetRequiredService<ILogger<RedisShared.Hosting.SystemdWatchdog>>());
        });
        services.AddOptions<RedisFailover.Sentinel.SentinelOptions>().Bind(builder.Configuration.GetSection(RedisFailover.Sentinel.SentinelOptions.Section))
            .PostConfigure(o => o.IsDefault = !((IConfigurationRoot)builder.Configuration).Providers.Skip(1).Any(p => p.TryGet("Sentinel:Urls", out _)))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisFailover.Sentinel.SentinelOptions>, RedisFailover.Sentinel.SentinelOptionsValidator>());
        services.AddHostedService<RedisFailover.Sentinel.SentinelServer>();
        services.AddSingleton<RefusalLog>();
        services.AddHostedService<ConnectionRefusals>();
        services.TryAddSingleton(_ => Prometheus.Metrics.NewCustomRegistry());
        services.TryAddSingleton<Decisions>();
        services.TryAddSingleton<RedisFailover.Dashboard.PlanHistory>();
        services.TryAddSingleton<CoordinatorMetrics>();
        services.TryAddSingleton<RedisFailover.Trust.Callers>();
        services.TryAddSingleton<RedisFailover.Trust.ServerTls>();
        services.AddSingleton<AuthInterceptor>();
        services.AddSingleton<FaultInterceptor>();
        services.AddGrpc(o =>
        {
            o.Interceptors.Add<AuthInterceptor>();
            o.Interceptors.Add<FaultInterceptor>();
            // A message larger than any real one (a report is a few hundred bytes) is refused before it is read.
            o.MaxReceiveMessageSize = 256 * 1024;
        });
        return builder;
    }

    public static WebApplication Build(WebApplicationBuilder builder)
    {
        // Here, not in CreateBuilder: the configuration is whole only now (tests add theirs after CreateBuilder).
        if (RedisShared.Hosting.HostFaults.UrlsProblem(builder.Configuration["Urls"], DefaultUrls) is { } urls)
        {
            throw new ConfigFileException(urls);
        }

        if (TransportProblem(builder.Configuration) is { } transport)
        {
            throw new ConfigFileException(transport);
        }

        ListenForMetrics(builder.Configuration);
        var app = builder.Build();
        app.MapGrpcService<AgentLinkService>();
        app.MapGrpcService<AdminService>();
        if (app.Configuration[MetricsUrlKey] is { Length: > 0 } metricsUrl && Uri.TryCreate(metricsUrl, UriKind.Absolute, out var metrics))
        {
            // Only on the metrics address (the gRPC one is HTTP/2, which Prometheus does not speak).
            app.MapGet("/metrics", async (Microsoft.AspNetCore.Http.HttpContext context, CoordinatorMetrics exposition) =>
            {
                context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
                await exposition.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
            }).RequireHost($"*:{metrics.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        }

        if (app.Configuration[DashboardUrlKey] is { Length: > 0 } dashboardUrl && Uri.TryCreate(dashboardUrl, UriKind.Absolute, out var dashboard))
        {
            RedisFailover.Dashboard.DashboardEndpoints.Map(app, $"*:{dashboard.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        }

        return app;
    }

    /// <summary>The command line checked before anything starts: an exit code for help, version or a usage error; null to run.</summary>
    // The command line's key check reads the options types' properties by reflection: a trimmed
    // (NativeAOT) build keeps them for every type a key can name.
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(FailoverOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(ResourceOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(NodeOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(ResourcesOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(EtcdOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(RedisFailover.Trust.TlsOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(RedisFailover.Sentinel.SentinelOptions))]
    public static int? Preflight(string[] args, TextWriter output, TextWriter error) =>
        RedisShared.Hosting.CommandLine.Preflight("redis-failover", args, ConfigurationSections, Usage, output, error);

    /// <summary>The configuration's keys that lie in one of <see cref="ConfigurationSections"/> and name no setting, as a configuration error's text; null when none.</summary>
    internal static string? UnknownKeys(Microsoft.Extensions.Configuration.IConfiguration configuration) =>
        RedisShared.Hosting.CommandLine.UnknownKeys(configuration, ConfigurationSections);

    public static Task<int> RunAsync(string[] args) => RedisShared.Hosting.HostFaults.RunAsync(
        "redis-failover",
        "RedisFailover.Hosting.FailoverHost",
        () => Build(CreateBuilder(args)),
        ConfigurationSections,
        host =>
        {
            host.Services.GetService<IStartupValidator>()?.Validate();
            // Resolved now, so that what weakens the trust (a shared token, plain http off loopback) is said at start.
            host.Services.GetRequiredService<RedisFailover.Trust.Callers>().WarnAboutTransport(host.Services.GetRequiredService<IConfiguration>());
        },
        DescribeConfigurationError,
        static text => text,
        Console.Error);

    /// <summary>The message for a configuration (or store) fault, or null when the exception is something else.</summary>
    internal static string? DescribeConfigurationError(Exception exception) => exception switch
    {
        ConfigFileException file => file.Message,
        StoreException store => store.Message,
        OptionsValidationException => string.Join(" ", ValidationFailures(exception)),
        // The binder's own message names the key: "Failed to convert configuration value at 'Failover:Window' ...".
        InvalidOperationException binding when binding.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal) => binding.Message,
        IOException bind when bind.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException => $"Urls: {bind.Message}",
        AggregateException aggregate => aggregate.InnerExceptions.Select(DescribeConfigurationError).FirstOrDefault(m => m is not null),
        // A store built while services are resolved arrives wrapped.
        { InnerException: { } inner } => DescribeConfigurationError(inner),
        _ => null,
    };

    private const string MetricsUrlKey = FailoverOptions.Section + ":" + nameof(FailoverOptions.MetricsUrl);

    private const string DashboardUrlKey = FailoverOptions.Section + ":" + nameof(FailoverOptions.DashboardUrl);

    /// <summary>
    /// With <c>Failover:MetricsUrl</c> set, Kestrel gets two kinds of endpoint: those of <c>Urls</c>
    /// (HTTP/2 only: gRPC without TLS, no upgrade) and the metrics one (HTTP/1.1, what Prometheus
    /// speaks). Endpoints named in configuration take the place of <c>Urls</c>, so both are named
    /// (Kestrel says, once, that it binds them "instead of" Urls: they are the same addresses).
    /// </summary>
    private static void ListenForMetrics(ConfigurationManager configuration)
    {
        var metricsUrl = configuration[MetricsUrlKey];
        var dashboardUrl = configuration[DashboardUrlKey];
        if (metricsUrl is not { Length: > 0 } && dashboardUrl is not { Length: > 0 })
        {
            return;
        }

        var endpoints = new Dictionary<string, string?>();
        if (metricsUrl is { Length: > 0 })
        {
            endpoints["Kestrel:Endpoints:Metrics:Url"] = metricsUrl;
            endpoints["Kestrel:Endpoints:Metrics:Protocols"] = "Http1";
        }

        if (dashboardUrl is { Length: > 0 })
        {
            endpoints["Kestrel:Endpoints:Dashboard:Url"] = dashboardUrl;
            endpoints["Kestrel:Endpoints:Dashboard:Protocols"] = "Http1";
        }

        var urls = (configuration["Urls"] ?? DefaultUrls).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        for (var i = 0; i < urls.Length; i++)
        {
            endpoints[$"Kestrel:Endpoints:Agents{i}:Url"] = urls[i];
            endpoints[$"Kestrel:Endpoints:Agents{i}:Protocols"] = "Http2";
        }

        configuration.AddInMemoryCollection(endpoints);
    }

    /// <summary>Every failure of every options validation in <paramref name="exception"/> (one, or several in an AggregateException).</summary>
    private static List<string> ValidationFailures(Exception exception) => exception switch
    {
        OptionsValidationException validation => [.. validation.Failures],
        AggregateException aggregate => [.. aggregate.InnerExceptions.SelectMany(ValidationFailures)],
        _ => [],
    };

    /// <summary>
    /// An <c>https://</c> address needs the coordinator's certificate; an <c>http://</c> one off
    /// loopback carries tokens in clear text, so it needs <c>Failover:AllowInsecureHttp</c>.
    /// </summary>
    internal static string? TransportProblem(IConfiguration configuration)
    {
        var certificate = configuration["Failover:Tls:CertFile"] is { Length: > 0 };
        var insecure = bool.TryParse(configuration["Failover:AllowInsecureHttp"], out var allowed) && allowed;
        var urls = configuration["Urls"] ?? DefaultUrls;
        if (urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault(u => u.StartsWith("https://", StringComparison.OrdinalIgnoreCase)) is { } https && !certificate)
        {
            return $"Urls: '{https}' is https:// but no certificate is given: set Failover:Tls:CertFile and Failover:Tls:KeyFile (PEM files).";
        }

        return RedisShared.Hosting.Loopback.BeyondLoopback(urls).FirstOrDefault(u => u.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) is { } plain && !insecure
            ? $"Urls: '{plain}' is plain http:// on an address other than loopback: agents' and operators' credentials would cross the network in clear text. Use https:// with Failover:Tls:CertFile, or set Failover:AllowInsecureHttp=true to accept that."
            : null;
    }

    private static bool UsesEtcd(IServiceProvider services) =>
        services.GetRequiredService<IOptions<FailoverOptions>>().Value.Store == "etcd";

    internal static string StoreDirectory(FailoverOptions options) =>
        options.StoreDirectory is { Length: > 0 } configured ? configured
        : Environment.GetEnvironmentVariable("STATE_DIRECTORY") is { Length: > 0 } systemd ? systemd.Split(':')[0]
        : Environment.UserName == "root" ? "/var/lib/redis-failover"
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state", "redis-failover");

    [GeneratedRegex(@"^[^\s:]+:\d{1,5}$")]
    internal static partial Regex HostPort();

    private static partial class Log
    {
        [LoggerMessage(EventId = 2092, Level = LogLevel.Warning, Message = "The process may open only {Limit} files (LimitNOFILE, ulimit -n): the gRPC endpoints hold at most {Callers} connections (Failover:MaxConnections {WantedCallers}) and the Sentinel endpoint {Clients} (Sentinel:MaxConnections {WantedClients}), keeping {Reserved} descriptors for etcd, the store and the journal")]
        public static partial void ConnectionsBounded(ILogger logger, long limit, long callers, int wantedCallers, int clients, int wantedClients, int reserved);
    }
}

/// <summary>The configuration file named by REDIS_FAILOVER_CONFIG cannot be read.</summary>
internal sealed class ConfigFileException(string message) : Exception(message);
