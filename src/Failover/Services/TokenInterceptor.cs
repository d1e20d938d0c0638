using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;
using RedisFailover.Hosting;

namespace RedisFailover.Services;

/// <summary>Every call presents <c>authorization: Bearer &lt;Failover:Token&gt;</c>, or is refused with Unauthenticated.</summary>
internal sealed class TokenInterceptor(IOptions<FailoverOptions> options, RefusalLog refusals) : Interceptor
{
    private readonly byte[] _expected = Encoding.UTF8.GetBytes("Bearer " + options.Value.Token);

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, responseStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, responseStream, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, context);
    }

    private void Check(ServerCallContext context)
    {
        var presented = Encoding.UTF8.GetBytes(context.RequestHeaders.GetValue("authorization") ?? "");
        if (!CryptographicOperations.FixedTimeEquals(presented, _expected))
        {
            refusals.Refused(context.Peer, "Unauthenticated: no valid token");
            throw new RpcException(new Status(StatusCode.Unauthenticated, "a valid token is required (authorization: Bearer <Failover:Token>)"));
        }
    }
}
