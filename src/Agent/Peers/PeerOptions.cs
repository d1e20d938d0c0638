using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.HostProbing;
using RedisAgent.Hosting;
using RedisShared.Hosting;

namespace RedisAgent.Peers;

/// <summary>Another node of the same resource that this agent also watches, as a vantage point. An entry of <c>Peers</c>.</summary>
internal sealed class PeerOptions
{
    /// <summary>The peer's name in logs and reports (e.g. its host name).</summary>
    public string? Name { get; set; }

    /// <summary>The peer's Redis, as a URL.</summary>
    public string? Url { get; set; }

    /// <summary>How to reach the peer's host; unset fields come from the <c>Ssh</c> section. No key file anywhere: port probes only.</summary>
    public SshOptions? Ssh { get; set; }
}

/// <summary>The <c>Peers</c> list.</summary>
internal sealed class PeersOptions
{
    public const string Section = "Peers";

    public List<PeerOptions> Items { get; } = [];
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

internal static class PeersRegistration
{
    /// <summary>Peers: the Peers list (bound one peer at a time, validated at start) and the loop that watches them.</summary>
    public static IServiceCollection AddPeers(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PeersOptions>()
            .Configure(options =>
            {
                // One Bind per peer: binding the list whole silently drops a peer with a bad value (Peers:0:Ssh:Interval=abc).
                foreach (var section in configuration.GetSection(PeersOptions.Section).GetChildren())
                {
                    var peer = new PeerOptions();
                    section.Bind(peer);
                    options.Items.Add(peer);
                }
            })
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PeersOptions>, PeersOptionsValidator>());
        services.AddHostedService<PeerMonitor>();
        return services;
    }
}
