using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisAgent.Connection;
using RedisAgent.Node;
using StackExchange.Redis;

namespace RedisAgent.Sampling;

/// <summary>
/// Reads INFO and CONFIG GET over one persistent, named connection, so the supervisor knows the
/// node's role, replicas and persistence when the node dies (and cannot be asked any more).
/// </summary>
internal sealed partial class NodeFactsSampler(
    RedisEndpoint endpoint,
    TlsTrust trust,
    NodeStatus status,
    SecretRedactor redactor,
    IOptions<SamplingOptions> options,
    TimeProvider time,
    ILogger<NodeFactsSampler> logger) : BackgroundService
{
    private readonly SamplingOptions _options = options.Value;
    private bool _configUnavailable;
    private bool _wasFailing;
    private ConnectionMultiplexer? _connection;

    public override void Dispose()
    {
        _connection?.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // One connection for the agent's life; SE.Redis reconnects it by itself. Made here,
                // inside the loop, so that even a failure to create it only delays the facts.
                var connection = _connection ??= await ConnectionMultiplexer.ConnectAsync(ClientOptions()).ConfigureAwait(false);
                var facts = await SampleAsync(connection.GetServer(connection.GetEndPoints()[0])).ConfigureAwait(false);
                status.SetFacts(facts);
                if (_wasFailing)
                {
                    _wasFailing = false;
                    Log.SamplingResumed(logger);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // The probe loop judges the node; a failing sample only means the facts age.
                if (!_wasFailing)
                {
                    _wasFailing = true;
                    Log.SamplingFailed(logger, redactor.Redact(ex.Message));
                }
            }

            try
            {
                await Task.Delay(_options.Interval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
        }
    }

    private async Task<NodeFacts> SampleAsync(IServer server)
    {
        var info = InfoParser.Parse(await server.InfoRawAsync().ConfigureAwait(false) ?? "");
        string? save = null;
        if (!_configUnavailable)
        {
            try
            {
                var pairs = await server.ConfigGetAsync("save").ConfigureAwait(false);
                save = pairs.Length > 0 ? pairs[0].Value : "";
            }
            catch (RedisServerException ex)
            {
                // Managed and hardened servers rename or disable CONFIG: carry on with INFO alone.
                _configUnavailable = true;
                Log.ConfigUnavailable(logger, ex.Message);
            }
        }

        return InfoParser.ToFacts(info, save, time.GetUtcNow());
    }

    private ConfigurationOptions ClientOptions()
    {
        var config = new ConfigurationOptions
        {
            ClientName = _options.ClientName,
            AllowAdmin = true,
            AbortOnConnectFail = false,
            User = endpoint.User,
            Password = endpoint.Password,
            Ssl = endpoint.Tls,
            ConnectTimeout = 2000,
            SyncTimeout = 2000,
            AsyncTimeout = 2000,
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

    private static partial class Log
    {
        [LoggerMessage(EventId = 1401, Level = LogLevel.Warning, Message = "CONFIG is unavailable on this server ({Reply}); carrying on with INFO only, persistence settings unknown")]
        public static partial void ConfigUnavailable(ILogger logger, string reply);

        [LoggerMessage(EventId = 1402, Level = LogLevel.Debug, Message = "Sampling INFO failed; keeping the last facts: {Message}")]
        public static partial void SamplingFailed(ILogger logger, string message);

        [LoggerMessage(EventId = 1403, Level = LogLevel.Debug, Message = "Sampling INFO works again")]
        public static partial void SamplingResumed(ILogger logger);
    }
}
