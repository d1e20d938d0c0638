using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace RedisAgent.Node;

internal static class NodeRegistration
{
    /// <summary>The node's status book, the observations of every target and the resource's membership: what the loops write and everyone reads.</summary>
    public static IServiceCollection AddNode(this IServiceCollection services)
    {
        services.TryAddSingleton<NodeStatus>();
        services.TryAddSingleton<ObservationBook>();
        services.TryAddSingleton<Membership>();
        return services;
    }
}
