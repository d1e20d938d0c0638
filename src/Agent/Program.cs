using RedisAgent.Hosting;

return await AgentHost.RunAsync(args).ConfigureAwait(false);
