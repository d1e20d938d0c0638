using RedisAgent.Hosting;
using RedisAgent.Cli;

if (args is ["logs", .. var rest])
{
    using var stop = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        stop.Cancel();
    };
    return await LogsCommand.RunAsync(rest, Console.Out, Console.Error, stop.Token).ConfigureAwait(false);
}

if (args is ["health", .. var healthArgs])
{
    return await RedisAgent.Cli.HealthCommand.RunAsync(healthArgs, Console.Out, Console.Error, CancellationToken.None).ConfigureAwait(false);
}

if (args is ["accept-term", .. var termArgs])
{
    return await AcceptTermCommand.RunAsync(termArgs, Console.Out, Console.Error).ConfigureAwait(false);
}

if (AgentHost.Preflight(args, Console.Out, Console.Error) is { } handled)
{
    return handled;
}

return await AgentHost.RunAsync(args).ConfigureAwait(false);
