using RedisShared.Security;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisAgent.Hosting;

namespace RedisAgent.Logs;

/// <summary>
/// Ships the resource's lines to a syslog drain: RFC 5424 over TCP or TLS with RFC 6587 octet
/// counting, or over UDP one message per datagram. TLS trusts a CA file or a pinned certificate,
/// never anything that answers. Best-effort, like the router it imitates:
/// it has a queue of its own (a stalled drain loses its oldest lines, nothing else waits), and
/// it reconnects with capped, jittered backoff.
/// <para>What a reconnect can cost: lines the drain's kernel had acknowledged but the drain had not
/// read are lost when it dies (TCP gives no end-to-end receipt); the lines that may be among them
/// are named in-line (<see cref="TcpDelivery"/>, event 1515). The batch being written when the
/// connection failed (up to 64 KB of lines) is sent again on the next one, so the drain may see those twice.</para>
/// </summary>
internal sealed partial class SyslogSink : BackgroundService
{
    private static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);
    private const int MaxBatchBytes = 64 * 1024;

    private readonly SyslogOptions _options;
    private readonly Uri? _url;
    private readonly int _facility;
    private readonly string _hostname;
    private readonly string _resource;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TlsTrust _trust;

    public SyslogSink(LogBus bus, IOptions<LogOptions> options, IOptions<Connection.AgentOptions> agent, TimeProvider time, ILogger<SyslogSink> logger)
    {
        _options = options.Value.Syslog;
        _url = string.IsNullOrWhiteSpace(_options.Url) ? null : new Uri(_options.Url);
        _facility = SyslogMessage.ParseFacility(_options.Facility) ?? 16;
        _hostname = agent.Value.NodeName ?? Environment.MachineName;
        _resource = bus.Resource;
        _time = time;
        _logger = logger;
        _trust = TlsTrust.Create(_options.TlsCaFile, _options.TlsCertificateSha256);
        if (_url is not null)
        {
            Queue = new SinkQueue("syslog " + _url.Authority, _options.QueueCapacity, time);
            bus.Attach(Queue);
        }
    }

    /// <summary>The drain's queue; null when no drain is configured (<c>Logs:Syslog:Url</c> unset).</summary>
    public SinkQueue? Queue { get; }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        _url is null ? Task.CompletedTask
        : _url.Scheme == "udp" ? RunUdpAsync(_url, Queue!, stoppingToken)
        : RunTcpAsync(_url, Queue!, stoppingToken);

    private async Task RunTcpAsync(Uri url, SinkQueue queue, CancellationToken stoppingToken)
    {
        byte[]? pending = null;
        var pendingLines = 0;
        DateTimeOffset pendingFrom = default, pendingTo = default;
        var backoff = new Backoff(InitialBackoff, MaxBackoff);
        while (!stoppingToken.IsCancellationRequested)
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            var delivery = new TcpDelivery();
            try
            {
                await socket.ConnectAsync(await EndPointAsync(url, stoppingToken).ConfigureAwait(false), stoppingToken).ConfigureAwait(false);
                Stream stream = new NetworkStream(socket, ownsSocket: false);
                await using var disposeStream = stream.ConfigureAwait(false);
                if (url.Scheme == "tls")
                {
                    var tls = new System.Net.Security.SslStream(stream, leaveInnerStreamOpen: false);
                    // The check that failed, in words (expired, another CA, another name, not the
                    // pinned one): SslStream only says "rejected by the callback".
                    string? problem = null;
                    try
                    {
                        await tls.AuthenticateAsClientAsync(
                            new System.Net.Security.SslClientAuthenticationOptions
                            {
                                TargetHost = url.Host,
                                RemoteCertificateValidationCallback = (_, certificate, _, errors) => (problem = _trust.Problem(certificate, errors)) is null,
                            },
                            stoppingToken).ConfigureAwait(false);
                    }
                    catch (System.Security.Authentication.AuthenticationException ex) when (problem is not null)
                    {
                        throw new System.Security.Authentication.AuthenticationException(problem, ex);
                    }

                    stream = tls;
                }

                Log.Connected(_logger, url.Authority);
                backoff.Reset();
                while (!stoppingToken.IsCancellationRequested)
                {
                    if (pending is null)
                    {
                        (pending, pendingLines, pendingFrom, pendingTo) = await NextBatchAsync(queue, stoppingToken).ConfigureAwait(false);
                    }

                    // What the drain read while this sink waited for lines.
                    delivery.Observe(TcpSample.Read(socket));
                    await stream.WriteAsync(pending, stoppingToken).ConfigureAwait(false);
                    queue.Shipped(pendingLines);
                    delivery.Wrote(TcpSample.Read(socket), pendingLines, pendingFrom, pendingTo);
                    pending = null;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception) when (ReportUnconfirmed(url, queue, delivery))
            {
                // Never taken: the filter reports what the dead connection may have lost, then the handlers below say why it died.
            }
            catch (SocketException ex)
            {
                Log.Disconnected(_logger, url.Authority, ex.SocketErrorCode.ToString(), backoff.Step.TotalMilliseconds);
            }
            catch (System.Security.Authentication.AuthenticationException ex)
            {
                Log.Untrusted(_logger, url.Authority, ex.Message, backoff.Step.TotalMilliseconds);
            }
            catch (IOException ex)
            {
                Log.Disconnected(_logger, url.Authority, ex.InnerException is SocketException se ? se.SocketErrorCode.ToString() : ex.Message, backoff.Step.TotalMilliseconds);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Whatever else went wrong (name resolution, a bug), the drain is one of many
                // sinks: it backs off and tries again, and never takes the agent down with it.
                Log.Disconnected(_logger, url.Authority, $"{ex.GetType().Name}: {ex.Message}", backoff.Step.TotalMilliseconds);
            }

            if (!await backoff.WaitAsync(_time, stoppingToken).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>
    /// A connection died: the lines written on it that the drain was not seen to read are said
    /// in-line (event 1515, which reaches this drain first on its next connection) and counted;
    /// false, so the exception goes on to the handler that says why the connection died.
    /// </summary>
    private bool ReportUnconfirmed(Uri url, SinkQueue queue, TcpDelivery delivery)
    {
        if (delivery.Unconfirmed() is var (lines, from, to))
        {
            queue.Unconfirmed(lines);
            Log.Unconfirmed(_logger, url.Authority, lines, from.UtcDateTime, to.UtcDateTime);
        }

        return false;
    }

    /// <summary>
    /// Waits for one line, then takes whatever else is already queued, up to <see cref="MaxBatchBytes"/>,
    /// as one buffer of octet-counted frames: one write for many lines instead of one each.
    /// </summary>
    private async Task<(byte[] Batch, int Lines, DateTimeOffset From, DateTimeOffset To)> NextBatchAsync(SinkQueue queue, CancellationToken stoppingToken)
    {
        var frames = new StringBuilder();
        var bytes = 0;
        var lines = 0;
        var (line, isLossMarker) = await queue.TakeAsync(stoppingToken).ConfigureAwait(false);
        var from = line.Timestamp;
        while (true)
        {
            var to = line.Timestamp;
            var message = SyslogMessage.Format(line, _facility, _hostname, _resource, _options.StructuredData);
            var length = Encoding.UTF8.GetByteCount(message);
            frames.Append(length).Append(' ').Append(message);
            bytes += length + 8;
            lines += isLossMarker ? 0 : 1;
            if (bytes >= MaxBatchBytes || !queue.TryTake(out line, out isLossMarker))
            {
                return (Encoding.UTF8.GetBytes(frames.ToString()), lines, from, to);
            }
        }
    }

    private async Task RunUdpAsync(Uri url, SinkQueue queue, CancellationToken stoppingToken)
    {
        using var socket = new Socket(SocketType.Dgram, ProtocolType.Udp);
        EndPoint? endPoint = null;
        var backoff = new Backoff(InitialBackoff, MaxBackoff);
        while (endPoint is null)
        {
            try
            {
                endPoint = await EndPointAsync(url, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.Disconnected(_logger, url.Authority, $"{ex.GetType().Name}: {ex.Message}", backoff.Step.TotalMilliseconds);
                if (!await backoff.WaitAsync(_time, stoppingToken).ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            (LogLine Line, bool IsLossMarker) taken;
            try
            {
                taken = await queue.TakeAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var datagram = SyslogMessage.Datagram(SyslogMessage.Format(taken.Line, _facility, _hostname, _resource, _options.StructuredData), _options.MaxDatagramBytes);
            try
            {
                await socket.SendToAsync(datagram, endPoint, stoppingToken).ConfigureAwait(false);
                if (!taken.IsLossMarker)
                {
                    queue.Shipped();
                }
            }
            catch (SocketException)
            {
                // UDP is fire and forget; a send error (an ICMP refusal echoed back) loses the line.
                if (!taken.IsLossMarker)
                {
                    queue.GaveUp(taken.Line);
                }
            }
        }
    }

    private static async Task<EndPoint> EndPointAsync(Uri url, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(url.Host.Trim('[', ']'), out var address))
        {
            return new IPEndPoint(address, url.Port);
        }

        var addresses = await Dns.GetHostAddressesAsync(url.Host, cancellationToken).ConfigureAwait(false);
        return new IPEndPoint(addresses[0], url.Port);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1501, Level = LogLevel.Information, Message = "Syslog drain {Drain} connected")]
        public static partial void Connected(ILogger logger, string drain);

        [LoggerMessage(EventId = 1502, Level = LogLevel.Warning, Message = "Syslog drain {Drain} unreachable or lost ({Error}); retrying in about {BackoffMs:0} ms")]
        public static partial void Disconnected(ILogger logger, string drain, string error, double backoffMs);

        [LoggerMessage(EventId = 1515, Level = LogLevel.Warning, Message = "Syslog drain {Drain}: the connection died; up to {Lines} lines written to it, from {From:yyyy-MM-ddTHH:mm:ssZ} to {To:yyyy-MM-ddTHH:mm:ssZ}, may not have reached it (TCP confirms receipt by the drain's kernel, not by the drain: a drain that stopped reading loses what its buffer held)")]
        public static partial void Unconfirmed(ILogger logger, string drain, int lines, DateTime from, DateTime to);

        [LoggerMessage(EventId = 1503, Level = LogLevel.Error, Message = "Syslog drain {Drain} is not trusted ({Error}): check Logs:Syslog:TlsCaFile or Logs:Syslog:TlsCertificateSha256; retrying in about {BackoffMs:0} ms")]
        public static partial void Untrusted(ILogger logger, string drain, string error, double backoffMs);
    }
}
