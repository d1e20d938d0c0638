using System.Net;
using System.Net.NetworkInformation;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.Hosting;
using RedisShared.Hosting;

namespace RedisAgent.Supervision;

/// <summary>How the agent brings a dead Redis back. Section <c>Restart</c>.</summary>
internal sealed class RestartOptions
{
    public const string Section = "Restart";

    /// <summary>Which driver restarts the process: <c>exec</c>, <c>command</c>, <c>systemd</c> or <c>none</c> (observe only).</summary>
    public RestartDriverKind Driver { get; set; } = RestartDriverKind.Exec;

    /// <summary>For the <c>command</c> driver: the command line, run with <c>/bin/sh -c</c>.</summary>
    public string? Command { get; set; }

    /// <summary>For the <c>ssh</c> driver: the command run on the node's host over SSH (the <c>Ssh</c> section says how to get there).</summary>
    public string SshCommand { get; set; } = "systemctl restart redis-server";

    /// <summary>For the <c>systemd</c> driver: the unit to <c>systemctl restart</c>.</summary>
    public string SystemdUnit { get; set; } = "redis-server";

    /// <summary>How long a restart command may run before it counts as a failed restart.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>After a restart, how long the node may stay unanswering before the start counts as failed.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Delay before the second consecutive restart; it doubles (with jitter) for each further one. The first restart is immediate.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest delay between two restarts.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Healthy for this long after a restart and the backoff starts again from zero.</summary>
    public TimeSpan StablePeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>At most this many restarts within <see cref="StartLimitInterval"/>; past it the agent stops and asks for a failover.</summary>
    public int StartLimitBurst { get; set; } = 5;

    /// <summary>The window of <see cref="StartLimitBurst"/>.</summary>
    public TimeSpan StartLimitInterval { get; set; } = TimeSpan.FromSeconds(60);
}

internal enum RestartDriverKind
{
    /// <summary>The agent runs <c>redis-server</c> as its own child and sees its exit at once.</summary>
    Exec,

    /// <summary>A configured command line restarts Redis (a container restart, a script...).</summary>
    Command,

    /// <summary><c>systemctl restart</c> of a unit: a preset of <see cref="Command"/>.</summary>
    Systemd,

    /// <summary>Runs <see cref="RestartOptions.SshCommand"/> on the node's host over SSH, for an agent off that host.</summary>
    Ssh,

    /// <summary>Observe and report only; never restart.</summary>
    None,
}

/// <summary>The restart settings, checked together with the node they apply to.</summary>
internal sealed partial class RestartOptionsValidator(IOptions<RedisOptions> redis, IOptions<ExecOptions> exec, IOptions<HostProbing.SshOptions> ssh)
    : IValidateOptions<RestartOptions>
{
    public ValidateOptionsResult Validate(string? name, RestartOptions options)
    {
        var errors = new ConfigErrors();
        errors.Positive($"{RestartOptions.Section}:{nameof(RestartOptions.CommandTimeout)}", options.CommandTimeout);
        errors.Positive($"{RestartOptions.Section}:{nameof(RestartOptions.StartTimeout)}", options.StartTimeout);
        errors.NotNegative($"{RestartOptions.Section}:{nameof(RestartOptions.InitialBackoff)}", options.InitialBackoff);
        errors.Positive($"{RestartOptions.Section}:{nameof(RestartOptions.MaxBackoff)}", options.MaxBackoff);
        errors.Require(options.MaxBackoff >= options.InitialBackoff, "Restart:MaxBackoff must not be shorter than Restart:InitialBackoff.");
        errors.NotNegative($"{RestartOptions.Section}:{nameof(RestartOptions.StablePeriod)}", options.StablePeriod);
        errors.Between($"{RestartOptions.Section}:{nameof(RestartOptions.StartLimitBurst)}", options.StartLimitBurst, 1, 1000);
        errors.Positive($"{RestartOptions.Section}:{nameof(RestartOptions.StartLimitInterval)}", options.StartLimitInterval);

        // The binder takes a number for an enum ("7"): refuse what names no driver.
        errors.Require(Enum.IsDefined(options.Driver),
            $"Restart:Driver '{options.Driver}' is not a driver. Valid values: exec, command, systemd, ssh, none.");
        switch (options.Driver)
        {
            case RestartDriverKind.Command:
                errors.Require(!string.IsNullOrWhiteSpace(options.Command), "Restart:Command is required when Restart:Driver is command.");
                break;
            case RestartDriverKind.Systemd:
                errors.Require(UnitName().IsMatch(options.SystemdUnit),
                    $"Restart:SystemdUnit '{options.SystemdUnit}' is not a systemd unit name (letters, digits and @._:- only).");
                break;
            case RestartDriverKind.Exec:
                ValidateExec(errors);
                break;
            case RestartDriverKind.Ssh:
                errors.Require(!string.IsNullOrWhiteSpace(ssh.Value.KeyFile), "Restart:Driver is ssh, which needs Ssh:KeyFile (and the host's key pinned) to reach the node's host.");
                errors.Require(!string.IsNullOrWhiteSpace(options.SshCommand), "Restart:SshCommand must not be empty.");
                break;
        }

        return errors.Result();
    }

    private void ValidateExec(ConfigErrors errors)
    {
        var execOptions = exec.Value;
        errors.Require(!string.IsNullOrWhiteSpace(execOptions.Path), "Exec:Path must name the redis-server binary.");
        errors.Positive($"{ExecOptions.Section}:{nameof(ExecOptions.StopTimeout)}", execOptions.StopTimeout);
        if (execOptions.ConfigFile is { } file)
        {
            errors.Require(File.Exists(file), $"Exec:ConfigFile '{file}' does not exist.");
        }

        var redisOptions = redis.Value;
        if (RedisEndpoint.TryParse(redisOptions.Url, out var tlsEndpoint, out _) && tlsEndpoint!.Tls && execOptions.ConfigFile is null)
        {
            // The generated redis.conf serves TLS on the URL's port: it needs the server's files.
            foreach (var (key, value) in new[] { ("TlsCertFile", execOptions.TlsCertFile), ("TlsKeyFile", execOptions.TlsKeyFile), ("TlsCaFile", execOptions.TlsCaFile) })
            {
                errors.Require(value is { Length: > 0 } && File.Exists(value),
                    value is { Length: > 0 }
                        ? $"Exec:{key} '{value}' does not exist."
                        : $"{redisOptions.Source} is rediss://, so the redis.conf the exec driver writes serves TLS: Exec:{key} is required (or give your own Exec:ConfigFile).");
            }
        }

        if (RedisEndpoint.TryParse(redisOptions.Url, out var endpoint, out _) && !IsThisMachine(endpoint!.Host))
        {
            errors.Require(false,
                $"Restart:Driver is exec, which runs redis-server on this machine, but {redisOptions.Source} names host '{endpoint.Host}'. " +
                "Use the ssh or command driver for a remote node, or point the URL at this machine.");
        }
    }

    private static bool IsThisMachine(string host)
    {
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (!IPAddress.TryParse(host, out var address))
        {
            return host.Equals(Environment.MachineName, StringComparison.OrdinalIgnoreCase);
        }

        return IPAddress.IsLoopback(address) || NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Any(a => a.Address.Equals(address));
    }

    [GeneratedRegex("^[A-Za-z0-9@._:-]+$")]
    private static partial Regex UnitName();
}

internal static class SupervisionRegistration
{
    /// <summary>Supervision: the Restart and Exec sections (validated at start, Restart against the node and the Exec settings), the supervisor's inbox and the supervisor itself. Its driver is composed by the host (it may need the SSH target).</summary>
    public static IServiceCollection AddSupervision(this IServiceCollection services, IConfiguration configuration)
    {
        // One Bind call per type, which the configuration binding generator sees.
        services.AddOptionsWithValidateOnStart<RestartOptions, RestartOptionsValidator>().Bind(configuration.GetSection(RestartOptions.Section));
        services.AddOptions<ExecOptions>().Bind(configuration.GetSection(ExecOptions.Section)).ValidateOnStart();
        services.TryAddSingleton<SupervisorInbox>();
        services.AddHostedService<Supervisor>();
        return services;
    }
}
