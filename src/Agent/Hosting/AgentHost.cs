using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.Logs;
using RedisAgent.Metrics;
using RedisAgent.Node;

namespace RedisAgent.Hosting;

/// <summary>Builds and runs the agent's host; tests build it the same way.</summary>
internal static partial class AgentHost
{
    /// <summary>sysexits.h EX_CONFIG: systemd and operators read it as "fix the configuration, do not retry".</summary>
    public const int ConfigurationErrorExitCode = RedisShared.Hosting.ExitCodes.Config;

    /// <summary>sysexits.h EX_SOFTWARE: the agent failed for a reason other than its configuration; systemd restarts it.</summary>
    public const int FatalExitCode = RedisShared.Hosting.ExitCodes.Software;

    /// <summary>Where the agent's HTTP endpoints listen unless <c>Urls</c> says otherwise: loopback only.</summary>
    public const string DefaultUrls = "http://127.0.0.1:9379";

    /// <summary>The configuration sections (and top-level keys) a command-line override may name.</summary>
    public static readonly IReadOnlyDictionary<string, Type?> ConfigurationSections = new Dictionary<string, Type?>
    {
        [RedisOptions.EnvironmentVariable] = typeof(string),
        [RedisOptions.Section] = typeof(RedisOptions),
        [AgentOptions.Section] = typeof(AgentOptions),
        [Probing.ProbeOptions.Section] = typeof(Probing.ProbeOptions),
        [Probing.VerdictOptions.Section] = typeof(Probing.VerdictOptions),
        [Sampling.SamplingOptions.Section] = typeof(Sampling.SamplingOptions),
        [Supervision.RestartOptions.Section] = typeof(Supervision.RestartOptions),
        [Supervision.ExecOptions.Section] = typeof(Supervision.ExecOptions),
        [HostProbing.SshOptions.Section] = typeof(HostProbing.SshOptions),
        [Peers.PeersOptions.Section] = typeof(List<Peers.PeerOptions>),
        [LogOptions.Section] = typeof(LogOptions),
        [MetricsOptions.Section] = typeof(MetricsOptions),
        [PlanOptions.Section] = typeof(PlanOptions),
        [PlanOptions.CustomSection] = typeof(Dictionary<string, CustomPlanOptions>),
        [Coordination.CoordinatorOptions.Section] = typeof(Coordination.CoordinatorOptions),
        [HttpAccessOptions.Section] = typeof(HttpAccessOptions),
        ["Urls"] = typeof(string),
        ["Logging"] = null,
        ["Kestrel"] = null,
    };

    public const string Usage = """
        redis-agent: keeps one Redis node alive and visible (probes, restarts, metrics, logs).

        usage:
          redis-agent [--Section:Key=value ...]   run the agent (configuration: appsettings.json, the
                                                  environment, e.g. REDIS_URL and Probe__Interval, then these)
          redis-agent logs [-t] [-n N] [-s redis|agent|heroku-redis] [--url URL]
                                                  a running agent's lines, like heroku logs -s redis -t
          redis-agent health [--url URL]          exit 0 when a running agent is ready (for container checks)
          redis-agent accept-term TERM [--state-directory DIR]
                                                  confirm a coordinator term the agent refused as too far ahead
          redis-agent --help | --version

        With no configuration it runs its own redis-server on 127.0.0.1:6379. Exit codes: 0 stopped,
        64 usage, 70 failed, 78 configuration error (the key is named). docs/ has every key.
        """;

    /// <summary>What the rest of a shutdown may take beyond Redis's own stop (tails closing, the drain's last batch).</summary>
    public static readonly TimeSpan ShutdownMargin = TimeSpan.FromSeconds(15);

    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = [.. args, RedisShared.Hosting.HostFaults.NoReload],
            ApplicationName = "redis-agent",
            // appsettings.json ships beside the binary; the working directory is wherever systemd or a shell left it.
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Urls"] = DefaultUrls });
        // Sources added by CreateBuilder (files, environment, command line) must still win over that default.
        var defaults = builder.Configuration.Sources[^1];
        builder.Configuration.Sources.RemoveAt(builder.Configuration.Sources.Count - 1);
        builder.Configuration.Sources.Insert(0, defaults);
        RedisShared.Hosting.SystemdIntegration.AddSystemdNotify(builder.Services);
        RedisShared.Hosting.HostFaults.QuietHostErrors(builder.Logging);
        builder.Logging.AddFilter(RedisShared.Hosting.KestrelRejections.Category, LogLevel.Error);
        builder.Logging.AddSimpleConsole(options =>
        {
            options.SingleLine = true;
            options.UseUtcTimestamp = true;
            options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        });
        // Logging must never block the agent's loops: a slow console (a busy journald) loses lines
        // instead of stalling, say, the reader of Redis's stdout, and through its pipe Redis itself.
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(options =>
            options.QueueFullMode = Microsoft.Extensions.Logging.Console.ConsoleLoggerQueueFullMode.DropWrite);
        builder.Services.AddRedisAgent(builder.Configuration);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // Connections past Http:MaxConnections are closed as they come, and the bound stays below the
            // open-file limit: a thousand idle connections once took every descriptor, and the agent could
            // no longer open its probe of Redis (nor answer /healthz) until they went.
            var http = kestrel.ApplicationServices.GetRequiredService<IOptions<HttpAccessOptions>>().Value;
            if (!http.LimitsValid)
            {
                // Kestrel's options are read before the start's checks, which refuse these values (78), naming the key.
                return;
            }

            var limit = RedisShared.Hosting.DescriptorLimit.Current();
            var bound = RedisShared.Hosting.DescriptorLimit.Share(http.MaxConnections, 0, limit);
            kestrel.Limits.MaxConcurrentConnections = bound;
            // And at most Http:MaxConnectionsPerClient of them from one client.
            var refused = kestrel.ApplicationServices.GetRequiredService<Metrics.RefusedConnections>();
            var clients = new RedisShared.Hosting.ClientConnections(http.MaxConnectionsPerClient, refused.RefusedFrom);
            kestrel.ConfigureEndpointDefaults(listen => listen.Use(clients.Middleware));
            kestrel.Limits.KeepAliveTimeout = http.IdleTimeout;
            kestrel.Limits.RequestHeadersTimeout = http.IdleTimeout;
            if (bound < http.MaxConnections)
            {
                Log.ConnectionsBounded(kestrel.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("RedisAgent.Hosting"), http.MaxConnections, bound, limit!.Value, RedisShared.Hosting.DescriptorLimit.Reserved);
            }
        });
        // The host's shutdown must outlast Redis's final save: the exec driver waits Exec:StopTimeout
        // after SIGTERM, and every other service gets a margin on top (the default 30 s would cut a
        // 30 s save short, and a SIGKILL then loses what was not saved).
        builder.Services.AddOptions<HostOptions>().Configure<IOptions<Supervision.ExecOptions>>((host, exec) =>
            host.ShutdownTimeout = exec.Value.StopTimeout + ShutdownMargin);
        return builder;
    }

    /// <summary>Builds the agent and maps its HTTP endpoints; tests build it the same way.</summary>
    public static WebApplication Build(WebApplicationBuilder builder)
    {
        var app = builder.Build();
        HttpAccess.Use(app);
        app.MapLogTail();
        app.MapMetricsAndHealth();
        app.MapRoleChecks();
        return app;
    }

    /// <summary>The command line checked before anything starts: an exit code for help, version or a usage error; null to run.</summary>
    // The command line's key check reads the options types' properties by reflection: a trimmed
    // (NativeAOT) build keeps them for every type a key can name.
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(RedisOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(AgentOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(Probing.ProbeOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(Probing.VerdictOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(Sampling.SamplingOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(Supervision.RestartOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(Supervision.ExecOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(HostProbing.SshOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(Peers.PeersOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(Peers.PeerOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(Logs.LogOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(Logs.SyslogOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(Metrics.PlanOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(Metrics.CustomPlanOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(Metrics.MetricsOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(Coordination.CoordinatorOptions))]
    [System.Diagnostics.CodeAnalysis.DynamicDependency(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties, typeof(HttpAccessOptions))]
    public static int? Preflight(string[] args, TextWriter output, TextWriter error) =>
        RedisShared.Hosting.CommandLine.Preflight("redis-agent", args, ConfigurationSections, Usage, output, error);

    /// <summary>The configuration's keys that lie in one of <see cref="ConfigurationSections"/> and name no setting, as a configuration error's text; null when none.</summary>
    internal static string? UnknownKeys(Microsoft.Extensions.Configuration.IConfiguration configuration) =>
        RedisShared.Hosting.CommandLine.UnknownKeys(configuration, ConfigurationSections);

    public static Task<int> RunAsync(string[] args) => RedisShared.Hosting.HostFaults.RunAsync(
        "redis-agent",
        "RedisAgent.Hosting.AgentHost",
        () => Build(CreateBuilder(args)),
        ConfigurationSections,
        host =>
        {
            if (RedisShared.Hosting.HostFaults.UrlsProblem(host.Services.GetRequiredService<IConfiguration>()["Urls"], DefaultUrls) is { } urls)
            {
                throw new AgentConfigurationException(urls);
            }

            host.Services.GetService<IStartupValidator>()?.Validate();
            if (host.Services.GetRequiredService<IOptions<HttpAccessOptions>>().Value.Problem(host.Services.GetRequiredService<IConfiguration>()) is { } access)
            {
                throw new AgentConfigurationException(access);
            }
        },
        DescribeConfigurationError,
        Connection.SecretRedactor.RedactAll,
        Console.Error);

    /// <summary>The message for a configuration fault, or null when the exception is something else.</summary>
    internal static string? DescribeConfigurationError(Exception exception) => exception switch
    {
        OptionsValidationException validation => string.Join(" ", validation.Failures),
        AgentConfigurationException configuration => configuration.Message,
        // The binder's own message names the key: "Failed to convert configuration value at 'Probe:Interval' ...".
        InvalidOperationException binding when binding.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal)
            => binding.Message + ValidValues(binding.Message),
        // Kestrel's "Failed to bind to address http://127.0.0.1:9379: address already in use."
        IOException bind when bind.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException
            => $"Urls: {bind.Message} Another process (another agent?) listens there; set Urls to a free address, e.g. Urls=http://127.0.0.1:9380.",
        AggregateException aggregate => aggregate.InnerExceptions.Select(DescribeConfigurationError).FirstOrDefault(m => m is not null),
        // A service built while others are resolved arrives wrapped.
        { InnerException: { } inner } => DescribeConfigurationError(inner),
        _ => null,
    };

    /// <summary>For an enum-typed key, the values it takes: "magic" is wrong, but what is right?</summary>
    private static string ValidValues(string bindingMessage)
    {
        // The configuration's only enum; named here rather than looked up by name, which a trimmed build cannot do.
        var match = System.Text.RegularExpressions.Regex.Match(bindingMessage, "to type '([^']+)'");
        return match.Success && match.Groups[1].Value == typeof(Supervision.RestartDriverKind).FullName
            ? " Valid values: " + string.Join(", ", Enum.GetNames<Supervision.RestartDriverKind>().Select(n => n.ToLowerInvariant())) + "."
            : "";
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1040, Level = LogLevel.Warning, Message = "Http:MaxConnections is {Wanted}, but the process may open only {Limit} files (LimitNOFILE, ulimit -n): the HTTP endpoints hold at most {Bound} connections, keeping {Reserved} descriptors for Redis's pipes, probes and drains")]
        public static partial void ConnectionsBounded(ILogger logger, int wanted, int bound, long limit, int reserved);
    }
}
