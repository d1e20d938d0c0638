using RedisShared.Security;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using RedisAgent.Connection;
using RedisAgent.Node;

namespace RedisAgent.Probing;

/// <summary>
/// Opens a fresh TCP connection to a Redis port, authenticates if the endpoint has a password,
/// sends <c>PING</c> and classifies what comes back. A fresh connection per probe is deliberate:
/// it exercises accept() and sees a refused port at once, where a pooled connection would hide
/// both behind its own reconnect logic.
/// </summary>
internal sealed class PortProbe
{
    private const int MaxReplyLength = 4096;

    private readonly RedisEndpoint _endpoint;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly TlsTrust _trust;
    private readonly byte[] _request;
    private readonly IPAddress? _source;

    /// <param name="source">The local address the probe's connection leaves from; null: the kernel's choice.</param>
    public PortProbe(RedisEndpoint endpoint, TimeSpan timeout, TimeProvider time, TlsTrust? trust = null, IPAddress? source = null)
    {
        _endpoint = endpoint;
        _source = source;
        _timeout = timeout;
        _time = time;
        _trust = trust ?? TlsTrust.System;
        _request = BuildRequest(endpoint);
    }

    /// <summary>One probe, within the probe's timeout from now.</summary>
    public async Task<PortProbeResult> ProbeAsync(CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(_timeout, _time);
        return await ProbeAsync(deadline.Token, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One probe, given up (Hung or ConnectTimeout) when <paramref name="deadline"/> is cancelled: the probe loop's own, made when it began the probe with the probe's timeout.</summary>
    public async Task<PortProbeResult> ProbeAsync(CancellationToken deadline, CancellationToken cancellationToken)
    {
        var at = _time.GetUtcNow();
        var started = _time.GetTimestamp();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline);
        var connected = false;

        PortProbeResult Result(PortProbeOutcome outcome, string? detail) =>
            new(outcome, at, _time.GetElapsedTime(started), detail);

        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (_source is not null)
            {
                socket.Bind(new IPEndPoint(_source, 0));
            }

            await ConnectAsync(socket, linked.Token).ConfigureAwait(false);
            connected = true;

            Stream stream = new NetworkStream(socket, ownsSocket: false);
            await using (stream.ConfigureAwait(false))
            {
                if (_endpoint.Tls)
                {
                    var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                    await tls.AuthenticateAsClientAsync(
                        new SslClientAuthenticationOptions
                        {
                            TargetHost = _endpoint.Host,
                            RemoteCertificateValidationCallback = _trust.Callback,
                        },
                        linked.Token).ConfigureAwait(false);
                    stream = tls;
                }

                await stream.WriteAsync(_request, linked.Token).ConfigureAwait(false);
                var reader = new ReplyReader(stream);
                if (_endpoint.Password is not null)
                {
                    var authReply = await reader.ReadLineAsync(linked.Token).ConfigureAwait(false);
                    if (authReply is null)
                    {
                        return Result(PortProbeOutcome.Reset, "connection closed before the AUTH reply");
                    }

                    var authOutcome = Classify(authReply);
                    if (authOutcome is PortProbeOutcome.AuthFailed or PortProbeOutcome.Busy)
                    {
                        return Result(authOutcome, authReply);
                    }
                }

                var reply = await reader.ReadLineAsync(linked.Token).ConfigureAwait(false);
                return reply is null
                    ? Result(PortProbeOutcome.Reset, "connection closed before the PING reply")
                    : Result(Classify(reply), reply);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return connected
                ? Result(PortProbeOutcome.Hung, $"connected, no reply within {_timeout.TotalMilliseconds:0} ms")
                : Result(PortProbeOutcome.ConnectTimeout, $"no connection within {_timeout.TotalMilliseconds:0} ms");
        }
        catch (SocketException ex)
        {
            return Result(ClassifySocketError(ex.SocketErrorCode), ex.SocketErrorCode.ToString());
        }
        catch (IOException ex) when (ex.InnerException is SocketException inner)
        {
            return Result(ClassifySocketError(inner.SocketErrorCode), inner.SocketErrorCode.ToString());
        }
        catch (IOException ex)
        {
            return Result(PortProbeOutcome.Reset, ex.Message);
        }
        catch (System.Security.Authentication.AuthenticationException ex)
        {
            // The server completed its side of a handshake: it is alive, and the agent does not trust it.
            return Result(PortProbeOutcome.TlsRejected, "TLS: " + ex.Message);
        }
    }

    /// <summary>Classifies the first line of a RESP reply.</summary>
    internal static PortProbeOutcome Classify(string reply)
    {
        if (reply.Length == 0)
        {
            return PortProbeOutcome.OtherReply;
        }

        if (reply[0] != '-')
        {
            return reply.Equals("+PONG", StringComparison.Ordinal) ? PortProbeOutcome.Pong : PortProbeOutcome.OtherReply;
        }

        var code = reply.AsSpan(1);
        var space = code.IndexOf(' ');
        if (space >= 0)
        {
            code = code[..space];
        }

        return code switch
        {
            "LOADING" or "BUSY" or "MASTERDOWN" => PortProbeOutcome.Busy,
            "NOAUTH" or "WRONGPASS" or "NOPERM" or "DENIED" => PortProbeOutcome.AuthFailed,
            // Older servers answer a bad or needless AUTH with a plain -ERR.
            "ERR" when reply.Contains("password", StringComparison.OrdinalIgnoreCase) => PortProbeOutcome.AuthFailed,
            _ => PortProbeOutcome.OtherReply,
        };
    }

    internal static PortProbeOutcome ClassifySocketError(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => PortProbeOutcome.Refused,
        SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown => PortProbeOutcome.Reset,
        SocketError.TimedOut => PortProbeOutcome.ConnectTimeout,
        _ => PortProbeOutcome.Failed,
    };

    private async Task ConnectAsync(Socket socket, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(_endpoint.Host, out var address))
        {
            await socket.ConnectAsync(new IPEndPoint(address, _endpoint.Port), cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await socket.ConnectAsync(_endpoint.Host, _endpoint.Port, cancellationToken).ConfigureAwait(false);
        }
    }

    private static byte[] BuildRequest(RedisEndpoint endpoint)
    {
        var builder = new StringBuilder();
        if (endpoint.Password is not null)
        {
            if (endpoint.User is not null)
            {
                AppendCommand(builder, "AUTH", endpoint.User, endpoint.Password);
            }
            else
            {
                AppendCommand(builder, "AUTH", endpoint.Password);
            }
        }

        AppendCommand(builder, "PING");
        return Encoding.UTF8.GetBytes(builder.ToString());
    }

    private static void AppendCommand(StringBuilder builder, params string[] parts)
    {
        builder.Append('*').Append(parts.Length).Append("\r\n");
        foreach (var part in parts)
        {
            builder.Append('$').Append(Encoding.UTF8.GetByteCount(part)).Append("\r\n").Append(part).Append("\r\n");
        }
    }

    /// <summary>Reads CRLF-terminated reply lines, capped so a hostile peer cannot exhaust memory.</summary>
    private sealed class ReplyReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[MaxReplyLength];
        private int _start;
        private int _end;

        public async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                if (newline >= 0)
                {
                    var length = newline - _start;
                    if (length > 0 && _buffer[newline - 1] == '\r')
                    {
                        length--;
                    }

                    var line = Encoding.UTF8.GetString(_buffer, _start, length);
                    _start = newline + 1;
                    return line;
                }

                if (_start > 0)
                {
                    Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                    _end -= _start;
                    _start = 0;
                }

                if (_end == _buffer.Length)
                {
                    // A reply line this long is not a PING answer; report what we have.
                    var partial = Encoding.UTF8.GetString(_buffer, 0, Math.Min(_end, 80));
                    _start = _end = 0;
                    return partial;
                }

                var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return null;
                }

                _end += read;
            }
        }
    }
}
