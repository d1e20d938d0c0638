using System.Net;
using Microsoft.Extensions.Options;
using RedisShared.Hosting;

namespace RedisAgent.Connection;

/// <summary>The agent itself. Section <c>Agent</c>.</summary>
internal sealed class AgentOptions
{
    public const string Section = "Agent";

    /// <summary>
    /// Where the agent keeps its files (the exec driver's redis.conf and data). Default:
    /// <c>$STATE_DIRECTORY</c> (systemd's StateDirectory=), else /var/lib/redis-agent as root,
    /// else <c>$XDG_STATE_HOME/redis-agent</c> (~/.local/state/redis-agent).
    /// </summary>
    public string? StateDirectory { get; set; }

    /// <summary>This node's name in logs and reports; default: the machine's host name.</summary>
    public string? NodeName { get; set; }

    /// <summary>
    /// The local address the agent's connections to other hosts leave from (its probes of peers and
    /// its link to the coordinator), e.g. the host's address on the network Redis replicates over:
    /// then a partition that cuts the host off cuts the agent off too, as it cuts Redis off.
    /// Unset: the kernel chooses.
    /// </summary>
    public string? SourceAddress { get; set; }

    /// <summary><see cref="SourceAddress"/> parsed (validated at start). A method, not a property: the configuration binder must not try to fill it.</summary>
    public System.Net.IPAddress? Source() => string.IsNullOrWhiteSpace(SourceAddress) ? null : System.Net.IPAddress.Parse(SourceAddress);

    public string ResolveStateDirectory()
    {
        if (!string.IsNullOrWhiteSpace(StateDirectory))
        {
            return Path.GetFullPath(StateDirectory);
        }

        if (Environment.GetEnvironmentVariable("STATE_DIRECTORY") is { Length: > 0 } systemd)
        {
            return systemd.Split(':')[0];
        }

        if (Environment.IsPrivilegedProcess)
        {
            return "/var/lib/redis-agent";
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        var root = string.IsNullOrEmpty(xdg)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state")
            : xdg;
        return Path.Combine(root, "redis-agent");
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
