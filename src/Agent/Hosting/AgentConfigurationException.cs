namespace RedisAgent.Hosting;

/// <summary>A configuration fault found at start. The agent prints the message (which names the key) and exits with 78 (EX_CONFIG).</summary>
internal sealed class AgentConfigurationException(string message) : Exception(message);
