namespace RedisAgent.Connection;

/// <summary>
/// Masks the node's password in any text that leaves the agent (logs, errors). The agent never
/// formats the password itself; this catches text it does not control, such as a failing
/// command's output or a client library's exception.
/// </summary>
internal sealed class SecretRedactor(RedisEndpoint endpoint)
{
    public string Redact(string text) =>
        endpoint.Password is { Length: > 0 } password
            ? text.Replace(password, "***", StringComparison.Ordinal)
            : text;
}
