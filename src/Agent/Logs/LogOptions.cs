using RedisShared.Security;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.Hosting;
using RedisShared.Hosting;

namespace RedisAgent.Logs;

/// <summary>Where the resource's log lines go. Section <c>Logs</c>.</summary>
internal sealed class LogOptions
{
    public const string Section = "Logs";

    /// <summary>The resource name in every line: <c>redis[&lt;resource&gt;]</c>. Default: <c>Agent:NodeName</c>.</summary>
    public string? Resource { get; set; }

    /// <summary>Redis's log file to follow (its <c>logfile</c> setting), for nodes the agent does not run itself.</summary>
    public string? File { get; set; }

    /// <summary>Read a file that already exists at agent start from its beginning, instead of following from its end.</summary>
    public bool FileFromStart { get; set; }

    /// <summary>How often the file is checked for new lines and rotation while inotify cannot watch it (its directory missing, no inotify instances left).</summary>
    public TimeSpan FilePollInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How often the file is checked while inotify watches it, which wakes the tailer the moment the
    /// file changes: only the fallback for what inotify does not see (another host's writes on NFS).
    /// Checking every 250 ms regardless doubled an idle agent's thread wake-ups.
    /// </summary>
    public TimeSpan FileWatchedPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The time zone Redis writes its log times in (an IANA name); default: this machine's.</summary>
    public string? RedisTimeZone { get; set; }

    /// <summary>Longer lines are cut, and say so.</summary>
    public int MaxLineLength { get; set; } = LineSanitizer.DefaultMaxLength;

    /// <summary>How many recent lines the agent keeps for tails that ask for history.</summary>
    public int HistoryLines { get; set; } = 1500;

    /// <summary>Each live tail's own queue; a reader that falls this far behind loses its oldest lines.</summary>
    public int TailQueueCapacity { get; set; } = 10_000;

    /// <summary>
    /// Each live tail's queue in bytes (roughly); past this its oldest lines go, like past
    /// <see cref="TailQueueCapacity"/>. Tails share the lines they hold (one copy however many tails
    /// queue it), so this bounds how far one tail may fall behind more than what all of them cost;
    /// it must leave a reader that keeps up room for a burst (a 1 MiB bound lost lines of a healthy tail).
    /// </summary>
    public int TailQueueBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Live tails attached at once; one more is answered 429 Too Many Requests.</summary>
    public int MaxTails { get; set; } = 256;

    public SyslogOptions Syslog { get; set; } = new();
}

/// <summary>A syslog drain. Section <c>Logs:Syslog</c>.</summary>
internal sealed class SyslogOptions
{
    /// <summary>
    /// <c>tcp://host:port</c> or <c>tls://host:port</c> (RFC 6587 octet counting), or <c>udp://host:port</c>
    /// (one message per datagram). Unset: no drain.
    /// </summary>
    public string? Url { get; set; }

    /// <summary>For <c>tls://</c>: a PEM file of the CA(s) that signed the drain's certificate, instead of the system's roots.</summary>
    public string? TlsCaFile { get; set; }

    /// <summary>For <c>tls://</c>: the SHA-256 fingerprint of the drain's certificate (hex); when set, it alone decides trust.</summary>
    public string? TlsCertificateSha256 { get; set; }

    /// <summary>The syslog facility, by name (<c>local0</c>...<c>local7</c>, <c>user</c>, <c>daemon</c>) or number.</summary>
    public string Facility { get; set; } = "local0";

    /// <summary>
    /// RFC 5424 STRUCTURED-DATA sent with every message, e.g. <c>[origin@32473 software="redis-agent"]</c>
    /// (a drain token goes here too). Unset: none (<c>-</c>).
    /// </summary>
    public string? StructuredData { get; set; }

    /// <summary>Lines waiting for the drain; past this the oldest are dropped (and the drain is told in-line).</summary>
    public int QueueCapacity { get; set; } = 10_000;

    /// <summary>UDP: the largest datagram sent; a longer message is cut to fit (RFC 5426 asks receivers to take 2048).</summary>
    public int MaxDatagramBytes { get; set; } = 2048;
}

/// <summary>The log stream and its syslog drain.</summary>
internal sealed class LogOptionsValidator : IValidateOptions<Logs.LogOptions>
{
    public ValidateOptionsResult Validate(string? name, Logs.LogOptions options)
    {
        var errors = new ConfigErrors();
        errors.Between($"{LogOptions.Section}:{nameof(LogOptions.MaxLineLength)}", options.MaxLineLength, 80, 1_048_576);
        errors.Between($"{LogOptions.Section}:{nameof(LogOptions.HistoryLines)}", options.HistoryLines, 1, 1_000_000);
        errors.Positive($"{LogOptions.Section}:{nameof(LogOptions.FilePollInterval)}", options.FilePollInterval);
        errors.Positive($"{LogOptions.Section}:{nameof(LogOptions.FileWatchedPollInterval)}", options.FileWatchedPollInterval);
        if (options.Resource is { } resource)
        {
            // Heroku's resource names (redis-clear-69157): a name with a space, a bracket or a
            // non-ASCII letter would break "redis[<resource>]: ..." for every parser downstream.
            errors.Require(resource.Length is > 0 and <= 100 && char.IsAsciiLetterLower(resource[0]) && resource.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'),
                $"{LogOptions.Section}:{nameof(LogOptions.Resource)} must be a resource name as Heroku writes them: lowercase letters, digits and dashes, starting with a letter, at most 100 (got '{Quoted.Printable(resource)}').");
        }
        errors.Between($"{LogOptions.Section}:{nameof(LogOptions.TailQueueCapacity)}", options.TailQueueCapacity, 1, 10_000_000);
        errors.Between($"{LogOptions.Section}:{nameof(LogOptions.TailQueueBytes)}", options.TailQueueBytes, 4096, 1024 * 1024 * 1024);
        errors.Between($"{LogOptions.Section}:{nameof(LogOptions.MaxTails)}", options.MaxTails, 0, 100_000);
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

internal static class LogsRegistration
{
    /// <summary>Logs: the Logs section (its syslog drain too, validated at start), the bus every line goes through, Redis's lines and the agent's own on it, the drain and the log file's tailer.</summary>
    public static IServiceCollection AddLogs(this IServiceCollection services, IConfiguration configuration)
    {
        // One Bind call per type, which the configuration binding generator sees.
        services.AddOptionsWithValidateOnStart<LogOptions, LogOptionsValidator>().Bind(configuration.GetSection(LogOptions.Section));
        services.TryAddSingleton<LogBus>();
        services.TryAddSingleton<RedisLogIngest>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Logging.ILoggerProvider, LogBusLoggerProvider>());
        services.AddHostedService<SyslogSink>();
        services.AddHostedService<LogFileTailer>();
        return services;
    }
}
