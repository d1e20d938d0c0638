namespace RedisAgent.Supervision;

/// <summary>Thrown by a driver when a restart could not be carried out; the supervisor counts it as a failed start.</summary>
internal sealed class RestartFailedException(string message, Exception? inner = null) : Exception(message, inner);
