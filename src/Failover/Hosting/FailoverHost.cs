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
    public const int ConfigurationErrorExitCode = 78;

    /// <summary>An optional JSON configuration file (same keys as appsettings.json).</summary>
    public const string ConfigFileVariable = "REDIS_FAILOVER_CONFIG";

    public const string DefaultUrls = "http://127.0.0.1:9380";

    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ApplicationName = "redis-failover", ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?> { ["Urls"] = DefaultUrls },
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
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        });
        // gRPC without TLS on loopback needs HTTP/2 without the upgrade dance.
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ConfigureEndpointDefaults(listen => listen.Protocols = HttpProtocols.Http2);
            // An agent whose connection went silent (a partition, not a close) is noticed within
            // seconds: its session ends, so status shows it not connected and it is no candidate.
            kestrel.Limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(2);
            kestrel.Limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(3);
        });
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<FailoverOptions>().Bind(builder.Configuration.GetSection(FailoverOptions.Section)).ValidateOnStart();
        services.AddOptions<ResourcesOptions>().Configure(o => builder.Configuration.GetSection(ResourcesOptions.Section).Bind(o.Items)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FailoverOptions>, FailoverOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ResourcesOptions>, ResourcesOptionsValidator>());
        services.TryAddSingleton(sp => new FileStore(StoreDirectory(sp.GetRequiredService<IOptions<FailoverOptions>>().Value)));
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
        services.AddSingleton<TokenInterceptor>();
        services.AddGrpc(o => o.Interceptors.Add<TokenInterceptor>());
        return builder;
    }

    public static WebApplication Build(WebApplicationBuilder builder)
    {
        var app = builder.Build();
        app.MapGrpcService<AgentLinkService>();
        app.MapGrpcService<AdminService>();
        return app;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        try
        {
            await using var host = Build(CreateBuilder(args));
            host.Services.GetService<IStartupValidator>()?.Validate();
            await host.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (ConfigFileException ex)
        {
            await Console.Error.WriteLineAsync("redis-failover: configuration error: " + ex.Message).ConfigureAwait(false);
            return ConfigurationErrorExitCode;
        }
        catch (Exception ex) when (ValidationFailures(ex) is { Count: > 0 } failures)
        {
            await Console.Error.WriteLineAsync("redis-failover: configuration error: " + string.Join(" ", failures)).ConfigureAwait(false);
            return ConfigurationErrorExitCode;
        }
        catch (IOException bind) when (bind.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            await Console.Error.WriteLineAsync($"redis-failover: configuration error: Urls: {bind.Message}").ConfigureAwait(false);
            return ConfigurationErrorExitCode;
        }
    }

    /// <summary>Every failure of every options validation in <paramref name="exception"/> (one, or several in an AggregateException).</summary>
    private static List<string> ValidationFailures(Exception exception) => exception switch
    {
        OptionsValidationException validation => [.. validation.Failures],
        AggregateException aggregate => [.. aggregate.InnerExceptions.SelectMany(ValidationFailures)],
        _ => [],
    };

    internal static string StoreDirectory(FailoverOptions options) =>
        options.StoreDirectory is { Length: > 0 } configured ? configured
        : Environment.GetEnvironmentVariable("STATE_DIRECTORY") is { Length: > 0 } systemd ? systemd.Split(':')[0]
        : Environment.UserName == "root" ? "/var/lib/redis-failover"
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state", "redis-failover");

    [GeneratedRegex(@"^[^\s:]+:\d{1,5}$")]
    internal static partial Regex HostPort();
}

internal sealed class FailoverOptionsValidator : IValidateOptions<FailoverOptions>
{
    public ValidateOptionsResult Validate(string? name, FailoverOptions options)
    {
        var errors = new List<string>();
        if (options.Window <= TimeSpan.Zero)
        {
            errors.Add($"Failover:Window must be greater than zero (got {options.Window}).");
        }

        if (options.RoundInterval <= TimeSpan.Zero || options.RoundInterval > options.Window)
        {
            errors.Add($"Failover:RoundInterval must be greater than zero and at most Failover:Window (got {options.RoundInterval}).");
        }

        if (options.Quorum is < 1)
        {
            errors.Add($"Failover:Quorum must be at least 1 (got {options.Quorum}).");
        }

        if (options.MaxSyncLagBytes < 0)
        {
            errors.Add("Failover:MaxSyncLagBytes must not be negative.");
        }

        if (options.Token is not { Length: >= 16 })
        {
            errors.Add("Failover:Token is required: a shared secret of at least 16 characters that agents and operators present.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

internal sealed class ResourcesOptionsValidator : IValidateOptions<ResourcesOptions>
{
    public ValidateOptionsResult Validate(string? name, ResourcesOptions options)
    {
        var errors = new List<string>();
        if (options.Items.Count == 0)
        {
            errors.Add("Resources: at least one resource is required (Resources:0:Name, Resources:0:Nodes:0:Name and :Address...).");
        }

        for (var i = 0; i < options.Items.Count; i++)
        {
            var resource = options.Items[i];
            if (string.IsNullOrWhiteSpace(resource.Name))
            {
                errors.Add($"Resources:{i}:Name is required.");
            }

            if (resource.Nodes.Count < 2)
            {
                errors.Add($"Resources:{i}:Nodes needs at least two nodes (a primary and a standby).");
            }

            for (var j = 0; j < resource.Nodes.Count; j++)
            {
                var node = resource.Nodes[j];
                if (string.IsNullOrWhiteSpace(node.Name))
                {
                    errors.Add($"Resources:{i}:Nodes:{j}:Name is required.");
                }

                if (node.Address is null || !FailoverHost.HostPort().IsMatch(node.Address))
                {
                    errors.Add($"Resources:{i}:Nodes:{j}:Address must be host:port (got '{node.Address}').");
                }
            }

            if (resource.Nodes.GroupBy(n => n.Name).Any(g => g.Count() > 1))
            {
                errors.Add($"Resources:{i}:Nodes: node names must be unique.");
            }

            if (resource.Timeout is < 0)
            {
                errors.Add($"Resources:{i}:Timeout must be 0 (never) or more seconds.");
            }
        }

        if (options.Items.GroupBy(r => r.Name).Any(g => g.Count() > 1))
        {
            errors.Add("Resources: resource names must be unique.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>The configuration file named by REDIS_FAILOVER_CONFIG cannot be read.</summary>
internal sealed class ConfigFileException(string message) : Exception(message);
