using RedisShared.Security;
using System.Net;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace RedisAgent.Connection;

/// <summary>
/// The agent's one standing connection to its node (<c>CLIENT SETNAME redis-agent</c>), shared by
/// the sampler and the coordinator's commands, so the node counts exactly one agent client.
/// SE.Redis reconnects it by itself; it is made on first use, so a node that is down at start
/// only delays it.
/// </summary>
internal sealed class RedisConnection(RedisEndpoint endpoint, TlsTrust trust, string clientName) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private ConnectionMultiplexer? _multiplexer;

    public async Task<IServer> ServerAsync()
    {
        var multiplexer = _multiplexer ?? await ConnectAsync().ConfigureAwait(false);
        return multiplexer.GetServer(multiplexer.GetEndPoints()[0]);
    }

    public void Dispose()
    {
        _multiplexer?.Dispose();
        _gate.Dispose();
    }

    private async Task<ConnectionMultiplexer> ConnectAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            return _multiplexer ??= await ConnectionMultiplexer.ConnectAsync(ClientOptions()).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private ConfigurationOptions ClientOptions()
    {
        var config = new ConfigurationOptions
        {
            ClientName = clientName,
            AllowAdmin = true,
            AbortOnConnectFail = false,
            User = endpoint.User,
            Password = endpoint.Password,
            Ssl = endpoint.Tls,
            ConnectTimeout = 2000,
            SyncTimeout = 2000,
            AsyncTimeout = 2000,
            // Without SUBSCRIBE the client opens no second (pub/sub) connection: the agent holds
            // exactly one connection to its node, which the plan's connection count discounts.
            // Without CLUSTER, the tie-breaker GET and CLIENT SETINFO, connecting adds nothing to
            // the node's error, miss and command counts that its users would then see.
            CommandMap = CommandMap.Create(["SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "CLUSTER"], available: false),
            ConfigurationChannel = "",
            TieBreaker = "",
            SetClientLibrary = false,
        };
        if (endpoint.Tls)
        {
            config.CertificateValidation += trust.Callback;
        }

        if (IPAddress.TryParse(endpoint.Host, out var address))
        {
            config.EndPoints.Add(new IPEndPoint(address, endpoint.Port));
        }
        else
        {
            config.EndPoints.Add(endpoint.Host, endpoint.Port);
        }

        return config;
    }
}
