using Grpc.Core;
using Grpc.Net.Client;
using RedisFailover.Hosting;

namespace RedisFailover.Store;

/// <summary>
/// Calls to an etcd cluster through dotnet-etcd's generated clients: one channel per endpoint, each
/// call on the current one with a deadline (<see cref="EtcdOptions.RequestTimeout"/>), and the next
/// call on the next endpoint after a failure. No retry inside a call: the callers retry on their own
/// clock (the leader's renewal, the coordinator's held effects), so a call never outlives its deadline.
/// </summary>
internal sealed class EtcdConnection : IDisposable
{
    private readonly GrpcChannel[] _channels;
    private readonly EtcdOptions _options;
    private readonly Lock _lock = new();
    private int _current;
    private string? _token;

    public EtcdConnection(EtcdOptions options)
    {
        _options = options;
        _channels = [.. options.EndpointUris().Select(uri => GrpcChannel.ForAddress(uri, new GrpcChannelOptions
        {
            HttpHandler = Handler(options),
            MaxReceiveMessageSize = 64 * 1024 * 1024,
        }))];
    }

    private static SocketsHttpHandler Handler(EtcdOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.RequestTimeout,
            KeepAlivePingDelay = TimeSpan.FromSeconds(1),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(1),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            EnableMultipleHttp2Connections = true,
        };
        if (options.CaFile is { Length: > 0 } caFile)
        {
            // etcd's own CA, and only it: a certificate another CA signed (or the system's trust would accept) is refused.
            var authorities = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
            authorities.ImportFromPemFile(caFile);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null || (errors & (System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch | System.Net.Security.SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
                {
                    return false;
                }

                using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
                chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
                chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
                using var presented = new System.Security.Cryptography.X509Certificates.X509Certificate2(certificate);
                return chain.Build(presented);
            };
        }

        if (options.CertFile is { Length: > 0 } certFile && options.KeyFile is { Length: > 0 } keyFile)
        {
            handler.SslOptions.ClientCertificates = [System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(certFile, keyFile)];
        }

        if (options.SourceAddress is { Length: > 0 } text && System.Net.IPAddress.TryParse(text, out var source))
        {
            handler.ConnectCallback = RedisShared.Hosting.SourceBound.From(source);
        }

        return handler;
    }

    public string Describe => $"etcd {string.Join(",", _options.EndpointUris().Select(u => u.Authority))} under {_options.Prefix}";

    public TimeSpan Timeout => _options.RequestTimeout;

    public Task<Etcdserverpb.TxnResponse> TxnAsync(Etcdserverpb.TxnRequest request, CancellationToken cancellationToken = default) =>
        CallAsync((invoker, headers, deadline) => new Etcdserverpb.KV.KVClient(invoker).TxnAsync(request, headers, deadline, cancellationToken).ResponseAsync);

    public Task<Etcdserverpb.RangeResponse> RangeAsync(Etcdserverpb.RangeRequest request, CancellationToken cancellationToken = default) =>
        CallAsync((invoker, headers, deadline) => new Etcdserverpb.KV.KVClient(invoker).RangeAsync(request, headers, deadline, cancellationToken).ResponseAsync);

    public Task<Etcdserverpb.DeleteRangeResponse> DeleteRangeAsync(Etcdserverpb.DeleteRangeRequest request, CancellationToken cancellationToken = default) =>
        CallAsync((invoker, headers, deadline) => new Etcdserverpb.KV.KVClient(invoker).DeleteRangeAsync(request, headers, deadline, cancellationToken).ResponseAsync);

    public Task<Etcdserverpb.LeaseGrantResponse> LeaseGrantAsync(long ttlSeconds, CancellationToken cancellationToken = default) =>
        CallAsync((invoker, headers, deadline) => new Etcdserverpb.Lease.LeaseClient(invoker).LeaseGrantAsync(new Etcdserverpb.LeaseGrantRequest { TTL = ttlSeconds }, headers, deadline, cancellationToken).ResponseAsync);

    public Task<Etcdserverpb.LeaseRevokeResponse> LeaseRevokeAsync(long id, CancellationToken cancellationToken = default) =>
        CallAsync((invoker, headers, deadline) => new Etcdserverpb.Lease.LeaseClient(invoker).LeaseRevokeAsync(new Etcdserverpb.LeaseRevokeRequest { ID = id }, headers, deadline, cancellationToken).ResponseAsync);

    /// <summary>One keep-alive of the lease: its remaining TTL in seconds (0 or less: the lease is gone).</summary>
    public Task<long> KeepAliveAsync(long id, CancellationToken cancellationToken = default) =>
        CallAsync(async (invoker, headers, deadline) =>
        {
            using var call = new Etcdserverpb.Lease.LeaseClient(invoker).LeaseKeepAlive(headers, deadline, cancellationToken);
            await call.RequestStream.WriteAsync(new Etcdserverpb.LeaseKeepAliveRequest { ID = id }, cancellationToken).ConfigureAwait(false);
            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            return await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false) ? call.ResponseStream.Current.TTL : 0;
        });

    private async Task<T> CallAsync<T>(Func<CallInvoker, Metadata?, DateTime, Task<T>> call)
    {
        int index;
        lock (_lock)
        {
            index = _current;
        }

        var invoker = _channels[index].CreateCallInvoker();
        try
        {
            var headers = await HeadersAsync(invoker).ConfigureAwait(false);
            return await call(invoker, headers, DateTime.UtcNow + _options.RequestTimeout).ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            lock (_lock)
            {
                if (_current == index)
                {
                    // This member did not answer (or lost its quorum): the next call asks another.
                    _current = (index + 1) % _channels.Length;
                }

                if (ex.StatusCode == StatusCode.Unauthenticated || ex.Status.Detail.Contains("invalid auth token", StringComparison.Ordinal))
                {
                    _token = null;
                }
            }

            throw new IOException($"etcd at {_options.EndpointUris()[index].Authority}: {ex.StatusCode}: {ex.Status.Detail}{Hint(ex.Status.Detail)}", ex);
        }
        catch (HttpRequestException ex)
        {
            lock (_lock)
            {
                _current = (index + 1) % _channels.Length;
            }

            throw new IOException($"etcd at {_options.EndpointUris()[index].Authority}: {ex.Message}", ex);
        }
    }

    /// <summary>What an operator can do about a TLS failure, which .NET describes in its own terms.</summary>
    private string Hint(string detail) =>
        detail.Contains("RemoteCertificateValidationCallback", StringComparison.Ordinal)
            ? " (etcd's certificate is not signed by Failover:Etcd:CaFile, or does not name the endpoint's host)"
            : _options.CertFile is not { Length: > 0 } && (detail.Contains("SslException", StringComparison.Ordinal) || detail.Contains("handshake", StringComparison.Ordinal))
                ? " (etcd ended the TLS handshake: with --client-cert-auth it needs a client certificate, Failover:Etcd:CertFile and KeyFile)"
                : "";

    /// <summary>With etcd's authentication on: a token from the user and the password file, kept until etcd refuses it.</summary>
    private async Task<Metadata?> HeadersAsync(CallInvoker invoker)
    {
        if (_options.User is not { Length: > 0 } user || _options.PasswordFile is not { Length: > 0 } file)
        {
            return null;
        }

        var token = _token;
        if (token is null)
        {
            var password = (await File.ReadAllTextAsync(file).ConfigureAwait(false)).TrimEnd('\r', '\n');
            var reply = await new Etcdserverpb.Auth.AuthClient(invoker).AuthenticateAsync(
                new Etcdserverpb.AuthenticateRequest { Name = user, Password = password }, deadline: DateTime.UtcNow + _options.RequestTimeout).ResponseAsync.ConfigureAwait(false);
            token = _token = reply.Token;
        }

        return new Metadata { { "token", token } };
    }

    public void Dispose()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }
    }
}
