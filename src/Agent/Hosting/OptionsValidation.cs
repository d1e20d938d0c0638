using System.Net;
using System.Net.NetworkInformation;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.Probing;
using RedisAgent.Sampling;
using RedisAgent.Supervision;

namespace RedisAgent.Hosting;

/// <summary>Collects what is wrong with a configuration, each message naming its key.</summary>
internal sealed class ConfigErrors
{
    private readonly List<string> _errors = [];

    /// <summary>
    /// The longest duration any key takes. .NET's timers end at about 49.7 days (a longer one throws
    /// when it is armed, crashing the loop that armed it, not at start); no probe, backoff or
    /// timeout of this agent needs more than a week.
    /// </summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromDays(7);

    public void Positive(string key, TimeSpan value)
    {
        if (value <= TimeSpan.Zero || value > MaxDuration)
        {
            _errors.Add($"{key} must be greater than zero and at most {MaxDuration.TotalDays:0} days (got {value}).");
        }
    }

    public void NotNegative(string key, TimeSpan value)
    {
        if (value < TimeSpan.Zero || value > MaxDuration)
        {
            _errors.Add($"{key} must be from zero to {MaxDuration.TotalDays:0} days (got {value}).");
        }
    }

    public void Between(string key, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            _errors.Add($"{key} must be between {min} and {max} (got {value}).");
        }
    }

    public void Require(bool condition, string message)
    {
        if (!condition)
        {
            _errors.Add(message);
        }
    }

    public ValidateOptionsResult Result() =>
        _errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(_errors);
}

internal sealed class RedisOptionsValidator : IValidateOptions<RedisOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisOptions options)
    {
        var errors = new ConfigErrors();
        errors.Require(RedisEndpoint.TryParse(options.Url, out _, out var error), $"{options.Source} {error}.");
        if (options.TlsCertificateSha256 is { Length: > 0 } pin)
        {
            errors.Require(TlsTrust.ParseFingerprint(pin) is not null,
                "Redis:TlsCertificateSha256 must be 64 hex digits (colons allowed), e.g. the output of 'openssl x509 -noout -fingerprint -sha256'.");
        }

        if (options.TlsCaFile is { Length: > 0 } caFile)
        {
            try
            {
                TlsTrust.Create(caFile, null);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or System.Security.Cryptography.CryptographicException)
            {
                errors.Require(false, $"Redis:TlsCaFile '{caFile}' cannot be used: {ex.Message}");
            }
        }

        return errors.Result();
    }
}

internal sealed class ProbeOptionsValidator : IValidateOptions<ProbeOptions>
{
    public ValidateOptionsResult Validate(string? name, ProbeOptions options)
    {
        var errors = new ConfigErrors();
        errors.Positive("Probe:Interval", options.Interval);
        errors.Positive("Probe:RetryInterval", options.RetryInterval);
        errors.Positive("Probe:Timeout", options.Timeout);
        errors.Require(options.RetryInterval <= options.Interval, "Probe:RetryInterval must not be longer than Probe:Interval.");
        return errors.Result();
    }
}

internal sealed class VerdictOptionsValidator : IValidateOptions<VerdictOptions>
{
    public ValidateOptionsResult Validate(string? name, VerdictOptions options)
    {
        var errors = new ConfigErrors();
        errors.Between("Verdict:FailuresToDown", options.FailuresToDown, 1, 100);
        errors.Between("Verdict:SuccessesToUp", options.SuccessesToUp, 1, 100);
        errors.Positive("Verdict:HangThreshold", options.HangThreshold);
        return errors.Result();
    }
}

internal sealed class SamplingOptionsValidator : IValidateOptions<SamplingOptions>
{
    public ValidateOptionsResult Validate(string? name, SamplingOptions options)
    {
        var errors = new ConfigErrors();
        errors.Positive("Sampling:Interval", options.Interval);
        errors.Between("Sampling:MaxReplyBytes", options.MaxReplyBytes, 64 * 1024, 512 * 1024 * 1024);
        errors.Require(!string.IsNullOrWhiteSpace(options.ClientName) && !options.ClientName.Any(char.IsWhiteSpace),
            "Sampling:ClientName must be a non-empty name without spaces.");
        return errors.Result();
    }
}

/// <summary>The restart settings, checked together with the node they apply to.</summary>
internal sealed partial class RestartOptionsValidator(IOptions<RedisOptions> redis, IOptions<ExecOptions> exec, IOptions<HostProbing.SshOptions> ssh)
    : IValidateOptions<RestartOptions>
{
    public ValidateOptionsResult Validate(string? name, RestartOptions options)
    {
        var errors = new ConfigErrors();
        errors.Positive("Restart:CommandTimeout", options.CommandTimeout);
        errors.Positive("Restart:StartTimeout", options.StartTimeout);
        errors.NotNegative("Restart:InitialBackoff", options.InitialBackoff);
        errors.Positive("Restart:MaxBackoff", options.MaxBackoff);
        errors.Require(options.MaxBackoff >= options.InitialBackoff, "Restart:MaxBackoff must not be shorter than Restart:InitialBackoff.");
        errors.NotNegative("Restart:StablePeriod", options.StablePeriod);
        errors.Between("Restart:StartLimitBurst", options.StartLimitBurst, 1, 1000);
        errors.Positive("Restart:StartLimitInterval", options.StartLimitInterval);

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
        errors.Positive("Exec:StopTimeout", execOptions.StopTimeout);
        if (execOptions.ConfigFile is { } file)
        {
            errors.Require(File.Exists(file), $"Exec:ConfigFile '{file}' does not exist.");
        }

        var redisOptions = redis.Value;
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

/// <summary>The agent's own host probe (<c>Ssh</c>), checked when a key file turns it on.</summary>
internal sealed class SshOptionsValidator(IOptions<RedisOptions> redis) : IValidateOptions<HostProbing.SshOptions>
{
    public ValidateOptionsResult Validate(string? name, HostProbing.SshOptions options)
    {
        var errors = new ConfigErrors();
        // Durations are checked even while SSH is off: a peer inherits them.
        foreach (var (key, value) in new[] { ("ConnectTimeout", options.ConnectTimeout), ("CommandTimeout", options.CommandTimeout), ("Interval", options.Interval) })
        {
            if (value is { } duration)
            {
                errors.Positive($"{HostProbing.SshOptions.Section}:{key}", duration);
            }
        }

        if (string.IsNullOrWhiteSpace(options.KeyFile) || !RedisEndpoint.TryParse(redis.Value.Url, out var endpoint, out _))
        {
            return errors.Result();
        }

        HostProbing.HostProbeFactory.Validate(errors, HostProbing.SshOptions.Section, options.Resolve(null, endpoint!.Host));
        return errors.Result();
    }
}

/// <summary>Each peer: a name, a URL, and sound SSH settings when its host is probed.</summary>
internal sealed class PeersOptionsValidator(IOptions<HostProbing.SshOptions> ssh) : IValidateOptions<Peers.PeersOptions>
{
    public ValidateOptionsResult Validate(string? name, Peers.PeersOptions options)
    {
        var errors = new ConfigErrors();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Items.Count; i++)
        {
            var peer = options.Items[i];
            var prefix = $"{Peers.PeersOptions.Section}:{i}";
            errors.Require(!string.IsNullOrWhiteSpace(peer.Name), $"{prefix}:Name is required.");
            errors.Require(peer.Name is null || names.Add(peer.Name), $"{prefix}:Name '{peer.Name}' is used by another peer.");
            if (!RedisEndpoint.TryParse(peer.Url, out var endpoint, out var error))
            {
                errors.Require(false, $"{prefix}:Url {error}.");
                continue;
            }

            var resolved = (peer.Ssh ?? new HostProbing.SshOptions()).Resolve(ssh.Value, endpoint!.Host);
            if (resolved.KeyFile.Length > 0)
            {
                HostProbing.HostProbeFactory.Validate(errors, prefix + ":Ssh", resolved);
            }
        }

        return errors.Result();
    }
}

/// <summary>The log stream and its syslog drain.</summary>
internal sealed class LogOptionsValidator : IValidateOptions<Logs.LogOptions>
{
    public ValidateOptionsResult Validate(string? name, Logs.LogOptions options)
    {
        var errors = new ConfigErrors();
        errors.Between("Logs:MaxLineLength", options.MaxLineLength, 80, 1_048_576);
        errors.Between("Logs:HistoryLines", options.HistoryLines, 1, 1_000_000);
        errors.Positive("Logs:FilePollInterval", options.FilePollInterval);
        errors.Between("Logs:TailQueueCapacity", options.TailQueueCapacity, 1, 10_000_000);
        errors.Between("Logs:TailQueueBytes", options.TailQueueBytes, 4096, 1024 * 1024 * 1024);
        errors.Between("Logs:MaxTails", options.MaxTails, 0, 100_000);
        errors.Between("Logs:Syslog:QueueCapacity", options.Syslog.QueueCapacity, 1, 10_000_000);
        errors.Between("Logs:Syslog:MaxDatagramBytes", options.Syslog.MaxDatagramBytes, 480, 65_000);
        errors.Require(Logs.SyslogMessage.ParseFacility(options.Syslog.Facility) is not null,
            $"Logs:Syslog:Facility '{options.Syslog.Facility}' is not a facility (local0..local7, user, daemon, kern, or 0-23).");
        if (options.RedisTimeZone is { Length: > 0 } zone)
        {
            errors.Require(TimeZoneInfo.TryFindSystemTimeZoneById(zone, out _), $"Logs:RedisTimeZone '{zone}' is not a known time zone (an IANA name such as Europe/Paris).");
        }

        if (options.Syslog.Url is { Length: > 0 } url)
        {
            errors.Require(
                Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "tcp" or "tls" or "udp" && uri.Host.Length > 0 && uri.Port > 0,
                $"Logs:Syslog:Url '{url}' must be tcp://host:port, tls://host:port or udp://host:port.");
        }

        if (options.Syslog.TlsCertificateSha256 is { Length: > 0 } pin)
        {
            errors.Require(TlsTrust.ParseFingerprint(pin) is not null, "Logs:Syslog:TlsCertificateSha256 must be 64 hex digits (colons allowed).");
        }

        if (options.Syslog.StructuredData is { Length: > 0 } structuredData)
        {
            errors.Require(Logs.SyslogMessage.IsStructuredData(structuredData),
                "Logs:Syslog:StructuredData must be RFC 5424 SD-ELEMENTs, e.g. [origin@32473 software=\"redis-agent\"].");
        }

        if (options.Syslog.TlsCaFile is { Length: > 0 } caFile)
        {
            try
            {
                TlsTrust.Create(caFile, null);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or System.Security.Cryptography.CryptographicException)
            {
                errors.Require(false, $"Logs:Syslog:TlsCaFile '{caFile}' cannot be used: {ex.Message}");
            }
        }

        return errors.Result();
    }
}

internal sealed class PlanOptionsValidator : IValidateOptions<Metrics.PlanOptions>
{
    public ValidateOptionsResult Validate(string? name, Metrics.PlanOptions options)
    {
        var errors = new ConfigErrors();
        foreach (var (planName, plan) in options.Custom)
        {
            var key = $"{Metrics.PlanOptions.CustomSection}:{planName}";
            errors.Require(!Metrics.Plans.BuiltIn.ContainsKey(planName),
                $"{key} has the name of a built-in plan; give the custom plan a name of its own.");
            errors.Require(Metrics.Plans.TryParseSize(plan.Memory, out _),
                $"{key}:Memory must be a size such as 2gb, 512mb or a number of bytes (got '{plan.Memory}').");
            errors.Require(plan.Connections is > 0, $"{key}:Connections must be a number greater than zero (got '{plan.Connections}').");
        }

        if (options.Name is { Length: > 0 } selected && Metrics.Plans.Find(selected, options.Custom) is null && !options.Custom.ContainsKey(selected))
        {
            errors.Require(false,
                $"Plan:Name '{selected}' is neither a built-in plan (mini, premium-0 ... premium-14, private-N, shield-N) nor defined under {Metrics.PlanOptions.CustomSection}.");
        }

        return errors.Result();
    }
}

internal sealed class MetricsOptionsValidator : IValidateOptions<Metrics.MetricsOptions>
{
    public ValidateOptionsResult Validate(string? name, Metrics.MetricsOptions options)
    {
        var errors = new ConfigErrors();
        errors.NotNegative("Metrics:LogInterval", options.LogInterval);
        errors.NotNegative("Metrics:RenderInterval", options.RenderInterval);
        return errors.Result();
    }
}

internal sealed class CoordinatorOptionsValidator : IValidateOptions<Coordination.CoordinatorOptions>
{
    public ValidateOptionsResult Validate(string? name, Coordination.CoordinatorOptions options)
    {
        var errors = new ConfigErrors();
        if (options.Url is { Length: > 0 } url)
        {
            errors.Require(Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https",
                $"Coordinator:Url must be an http:// or https:// address (got '{url}').");
            errors.Require(options.Token is { Length: > 0 }, "Coordinator:Token is required with Coordinator:Url (the coordinator's Failover:Token).");
            errors.Require(options.Resource is { Length: > 0 }, "Coordinator:Resource is required with Coordinator:Url (the resource's name on the coordinator).");
        }

        errors.Positive("Coordinator:ReportInterval", options.ReportInterval);
        if (options.SelfFenceAfter is { } selfFence)
        {
            errors.Positive("Coordinator:SelfFenceAfter", selfFence);
        }

        return errors.Result();
    }
}

internal sealed class AgentOptionsValidator : IValidateOptions<AgentOptions>
{
    public ValidateOptionsResult Validate(string? name, AgentOptions options)
    {
        var errors = new ConfigErrors();
        if (options.SourceAddress is { Length: > 0 } source)
        {
            errors.Require(IPAddress.TryParse(source, out _), $"Agent:SourceAddress must be an IP address of this host (got '{source}').");
        }

        return errors.Result();
    }
}
