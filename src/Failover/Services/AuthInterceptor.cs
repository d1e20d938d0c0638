using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.AspNetCore.Http;
using RedisFailover.Trust;

namespace RedisFailover.Services;

/// <summary>
/// Every call is identified (<see cref="Callers"/>: a client certificate or a bearer token) and
/// authorized by its method: the agents' stream needs an agent's credential, the Admin methods that
/// read need <c>read</c>, those that change anything <c>admin</c>. The caller is then in
/// <see cref="ServerCallContext.UserState"/> (<see cref="CallerOf"/>) for the service to check what
/// it is bound to and to journal who did what.
/// </summary>
internal sealed class AuthInterceptor(Callers callers, RefusalLog refusals) : Interceptor
{
    private const string CallerKey = "caller";

    /// <summary>The methods that change a resource: <c>admin</c> only.</summary>
    internal static readonly HashSet<string> AdminMethods = new(StringComparer.Ordinal)
    {
        "/redisfailover.v1.Admin/Promote",
        "/redisfailover.v1.Admin/Switchover",
        "/redisfailover.v1.Admin/SetSettings",
        "/redisfailover.v1.Admin/PauseFailover",
        "/redisfailover.v1.Admin/ResumeFailover",
        "/redisfailover.v1.Admin/AddNode",
        "/redisfailover.v1.Admin/RemoveNode",
    };

    /// <summary>
    /// Whether the credential a long call (the agents' stream) opened with is still in force: a
    /// line removed from the credentials file, or a certificate revoked there, ends the streams it
    /// opened, not only the calls to come. Null when it still is; else why not.
    /// </summary>
    public string? Revoked(ServerCallContext context)
    {
        var caller = CallerOf(context);
        var now = callers.Identify(context.RequestHeaders.GetValue("authorization"), context.GetHttpContext().Connection.ClientCertificate, out var why);
        return now == caller ? null : now is null ? why : $"the credential now names {now.Name}, not {caller.Name}";
    }

    public static Caller CallerOf(ServerCallContext context) =>
        context.UserState.TryGetValue(CallerKey, out var caller) && caller is Caller known
            ? known
            : throw new RpcException(new Status(StatusCode.Unauthenticated, "no caller"));

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
        var certificate = context.GetHttpContext().Connection.ClientCertificate;
        var caller = callers.Identify(context.RequestHeaders.GetValue("authorization"), certificate, out var why);
        if (caller is null)
        {
            refusals.Refused(context.Peer, $"Unauthenticated: {why}");
            throw new RpcException(new Status(StatusCode.Unauthenticated, $"not authenticated: {why}"));
        }

        var method = context.Method;
        var allowed = method.StartsWith("/redisfailover.v1.AgentLink/", StringComparison.Ordinal)
            ? caller.Role is CallerRole.Agent or CallerRole.Fleet
            : AdminMethods.Contains(method) ? caller.MayAdminister : caller.MayRead;
        if (!allowed)
        {
            var need = method.StartsWith("/redisfailover.v1.AgentLink/", StringComparison.Ordinal) ? "an agent's credential" : AdminMethods.Contains(method) ? "the admin role" : "the read role";
            refusals.Refused(context.Peer, $"PermissionDenied: {caller} called {method}");
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"{caller.Name} ({caller.Role.ToString().ToLowerInvariant()}) may not call {method[(method.LastIndexOf('/') + 1)..]}: it needs {need}"));
        }

        context.UserState[CallerKey] = caller;
    }
}
