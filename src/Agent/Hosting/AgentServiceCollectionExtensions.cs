using RedisShared.Security;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.Coordination;
using RedisAgent.HostProbing;
using RedisAgent.Logs;
using RedisAgent.Metrics;
using RedisAgent.Peers;
using RedisAgent.Node;
using RedisAgent.Probing;
using RedisAgent.Sampling;
using RedisAgent.Supervision;

namespace RedisAgent.Hosting;

internal static class AgentServiceCollectionExtensions
{
    /// <summary>Registers the agent's options (validated at start), its shared state and its loops.</summary>
    public static IServiceCollection AddRedisAgent(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingleton(TimeProvider.System);

        services.AddOptions<RedisOptions>()
            .Bind(configuration.GetSection(RedisOptions.Section))
            .Configure(options =>
            {
                if (configuration[RedisOptions.EnvironmentVariable] is { Length: > 0 } fromEnvironment)
                {
                    options.Url = fromEnvironment;
                    options.Source = RedisOptions.EnvironmentVariable;
                }
                else if (configuration[$"{RedisOptions.Section}:Url"] is { Length: > 0 } fromConfig)
                {
                    options.Url = fromConfig;
                    options.Source = $"{RedisOptions.Section}:Url";
                }
                else
                {
                    options.Url = RedisOptions.EmbeddedUrl;
                    options.Embedded = true;
                }
            })
            .ValidateOnStart();
        // One Bind call per type, which the configuration binding generator sees.
        services.AddOptionsWithValidateOnStart<AgentOptions, AgentOptionsValidator>().Bind(configuration.GetSection(AgentOptions.Section));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisOptions>, RedisOptionsValidator>());

        services.AddOptionsWithValidateOnStart<HttpAccessOptions, HttpAccessOptionsValidator>().Bind(configuration.GetSection(HttpAccessOptions.Section));
        services.TryAddSingleton<HttpAccess>();
        services.TryAddSingleton<Metrics.RefusedConnections>();
        services.AddHostedService(sp => sp.GetRequiredService<Metrics.RefusedConnections>());

        // The node's connection, composed here: its address and trust, the redactor of every secret
        // the configuration holds, the client (named as Sampling says) and the commands that change the node.
        services.TryAddSingleton(sp => RedisEndpoint.Parse(sp.GetRequiredService<IOptions<RedisOptions>>().Value.Url!));
        services.TryAddSingleton(sp =>
        {
            var redis = sp.GetRequiredService<IOptions<RedisOptions>>().Value;
            return TlsTrust.Create(redis.TlsCaFile, redis.TlsCertificateSha256);
        });
        services.TryAddSingleton(CreateRedactor);
        services.TryAddSingleton(sp => new RedisConnection(sp.GetRequiredService<RedisEndpoint>(), sp.GetRequiredService<TlsTrust>(), sp.GetRequiredService<IOptions<SamplingOptions>>().Value.ClientName));
        services.TryAddSingleton<NodeControl>();
        // What crosses capabilities is composed here too: the probe targets (the node and its peers,
        // with their SSH settings) and the restart driver (the ssh driver uses the local target).
        services.TryAddSingleton(CreateTargets);
        services.TryAddSingleton(CreateDriver);

        // Each capability registers its own options (bound and validated at start), state and loops.
        // The order is the loops' start order: the supervisor starts the exec driver's server before
        // the loops watch it, and the watchdog starts last.
        services.AddNode()
            .AddHostProbing(configuration)
            .AddSupervision(configuration)
            .AddProbing(configuration)
            .AddPeers(configuration)
            .AddSampling(configuration)
            .AddLogs(configuration)
            .AddMetrics(configuration)
            .AddCoordination(configuration);
        services.AddHostedService(CreateWatchdog);

        return services;
    }

    /// <summary>The agent is alive while it keeps probing its own node (a probe ends within Probe:Timeout, answered or not).</summary>
    private static RedisShared.Hosting.SystemdWatchdog CreateWatchdog(IServiceProvider services)
    {
        var probe = services.GetRequiredService<IOptions<ProbeOptions>>().Value;
        var status = services.GetRequiredService<NodeStatus>();
        var time = services.GetRequiredService<TimeProvider>();
        var started = time.GetUtcNow();
        var limit = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(10).Ticks, 3 * (probe.Interval + probe.Timeout).Ticks));
        return new RedisShared.Hosting.SystemdWatchdog(
            services.GetService<Microsoft.Extensions.Hosting.Systemd.ISystemdNotifier>() ?? new Microsoft.Extensions.Hosting.Systemd.SystemdNotifier(),
            () =>
            {
                var age = time.GetUtcNow() - (status.Snapshot.LastProbe?.At ?? started);
                return age > limit ? $"no probe of the local node has finished for {age.TotalSeconds:0} s (limit {limit.TotalSeconds:0} s)" : null;
            },
            time,
            services.GetRequiredService<ILogger<RedisShared.Hosting.SystemdWatchdog>>());
    }

    /// <summary>Every secret the configuration holds, so that no line the agent forwards or logs can show one.</summary>
    private static SecretRedactor CreateRedactor(IServiceProvider services)
    {
        var redactor = new SecretRedactor(
            services.GetRequiredService<RedisEndpoint>(),
            services.GetRequiredService<IOptions<CoordinatorOptions>>().Value.Token);
        foreach (var peer in services.GetRequiredService<IOptions<PeersOptions>>().Value.Items)
        {
            if (RedisEndpoint.TryParse(peer.Url, out var endpoint, out _))
            {
                redactor.Add(endpoint!.Password);
            }
        }

        var exec = services.GetRequiredService<IOptions<ExecOptions>>().Value;
        var lines = new List<string>();
        if (exec.ConfigFile is { Length: > 0 } file)
        {
            try
            {
                lines.AddRange(File.ReadLines(file));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Validation names an unreadable file; nothing to learn from it here.
            }
        }

        for (var i = 0; i + 1 < exec.Arguments.Count; i++)
        {
            lines.Add(exec.Arguments[i] + " " + exec.Arguments[i + 1]);
        }

        foreach (var secret in SecretRedactor.SecretsInRedisConfig(lines))
        {
            redactor.Add(secret);
        }

        return redactor;
    }

    private static IRestartDriver CreateDriver(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<RestartOptions>>().Value;
        var time = services.GetRequiredService<TimeProvider>();
        var loggers = services.GetRequiredService<ILoggerFactory>();
        return options.Driver switch
        {
            RestartDriverKind.Exec => CreateExecDriver(services, time, loggers),
            RestartDriverKind.Command => new CommandDriver("command", options.Command!, options.CommandTimeout, time, loggers.CreateLogger<CommandDriver>()),
            RestartDriverKind.Systemd => CommandDriver.Systemd(options.SystemdUnit, options.CommandTimeout, time, loggers.CreateLogger<CommandDriver>()),
            RestartDriverKind.Ssh => new SshDriver(
                services.GetRequiredService<HostProbeFactory>().Create(services.GetRequiredService<ProbeTargets>().Local.Ssh!),
                options.SshCommand,
                options.CommandTimeout,
                loggers.CreateLogger<SshDriver>()),
            RestartDriverKind.None => new ObserveOnlyDriver(),
            _ => throw new InvalidOperationException($"No driver for {options.Driver}; validation should have refused it."),
        };
    }

    private static ProbeTargets CreateTargets(IServiceProvider services)
    {
        var endpoint = services.GetRequiredService<RedisEndpoint>();
        var ssh = services.GetRequiredService<IOptions<SshOptions>>().Value;
        var agent = services.GetRequiredService<IOptions<AgentOptions>>().Value;
        var local = new ProbeTarget(
            agent.NodeName ?? Environment.MachineName,
            IsLocal: true,
            endpoint,
            string.IsNullOrWhiteSpace(ssh.KeyFile) ? null : ssh.Resolve(null, endpoint.Host),
            SshOptions.Section);
        var peers = services.GetRequiredService<IOptions<PeersOptions>>().Value.Items.Select((peer, i) =>
        {
            var peerEndpoint = RedisEndpoint.Parse(peer.Url!);
            var resolved = (peer.Ssh ?? new SshOptions()).Resolve(ssh, peerEndpoint.Host);
            return new ProbeTarget(peer.Name!, IsLocal: false, peerEndpoint, resolved.KeyFile.Length > 0 ? resolved : null, $"{PeersOptions.Section}:{i}");
        }).ToList();
        return new ProbeTargets(local, peers);
    }

    private static ExecDriver CreateExecDriver(IServiceProvider services, TimeProvider time, ILoggerFactory loggers)
    {
        var redis = services.GetRequiredService<IOptions<RedisOptions>>().Value;
        var exec = services.GetRequiredService<IOptions<ExecOptions>>().Value;
        return new ExecDriver(
            exec,
            services.GetRequiredService<RedisEndpoint>(),
            services.GetRequiredService<IOptions<AgentOptions>>().Value.ResolveStateDirectory(),
            installIfMissing: exec.InstallIfMissing ?? redis.Embedded,
            services.GetRequiredService<SupervisorInbox>(),
            time,
            loggers,
            services.GetRequiredService<SecretRedactor>(),
            services.GetRequiredService<RedisLogIngest>());
    }
}
