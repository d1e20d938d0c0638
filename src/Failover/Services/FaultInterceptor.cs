using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace RedisFailover.Services;

/// <summary>
/// A handler that fails with anything but a refusal (<see cref="RpcException"/>) is a fault of the
/// coordinator's: logged in one line (the gRPC host would log a stack trace per call), answered
/// <c>Internal</c> without internals, and the coordinator serves on.
/// </summary>
internal sealed partial class FaultInterceptor(ILogger<FaultInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not (RpcException or OperationCanceledException))
        {
            throw Fault(context, ex);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not (RpcException or OperationCanceledException))
        {
            throw Fault(context, ex);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not (RpcException or OperationCanceledException or IOException))
        {
            throw Fault(context, ex);
        }
    }

    private RpcException Fault(ServerCallContext context, Exception ex)
    {
        Log.Failed(logger, context.Method, ex.GetType().Name, WireLimits.Printable(ex.Message, 300));
        return new RpcException(new Status(StatusCode.Internal, "the coordinator failed on this call; its log says why"));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2007, Level = LogLevel.Error, Message = "{Method} failed: {Type}: {Message}")]
        public static partial void Failed(ILogger logger, string method, string type, string message);
    }
}
