using RedisAgent.Node;

namespace RedisAgent.Supervision;

/// <summary>Brings a Redis process back. One per agent, chosen by <see cref="RestartOptions.Driver"/>.</summary>
internal interface IRestartDriver
{
    /// <summary>The driver's name as configured, for logs.</summary>
    string Name { get; }

    /// <summary>False for a driver that only watches: the supervisor then judges and reports, and never asks for a restart.</summary>
    bool CanRestart => true;

    /// <summary>Called once when the agent starts; the exec driver starts its server here.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Restarts the node. A hung node is killed first. Throws <see cref="RestartFailedException"/> when the restart could not be done.</summary>
    Task RestartAsync(RestartCause cause, CancellationToken cancellationToken);

    /// <summary>Called once when the agent stops; the exec driver stops its server here.</summary>
    Task StopAsync(CancellationToken cancellationToken);
}

/// <summary>The <c>none</c> driver: the agent watches and reports, and leaves restarts to someone else.</summary>
internal sealed class ObserveOnlyDriver : IRestartDriver
{
    public string Name => "none";

    public bool CanRestart => false;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task RestartAsync(RestartCause cause, CancellationToken cancellationToken) =>
        throw new RestartFailedException("the restart driver is 'none' (observe only)");

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
