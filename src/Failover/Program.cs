using RedisFailover.Cli;
using RedisFailover.Hosting;

// redis-failover: the coordinator daemon; `redis-failover status|history` talk to a running one.
if (args.Length > 0 && AdminCommand.Verbs.Contains(args[0]))
{
    return await AdminCommand.RunAsync(args).ConfigureAwait(false);
}

if (FailoverHost.Preflight(args, Console.Out, Console.Error) is { } handled)
{
    return handled;
}

return await FailoverHost.RunAsync(args).ConfigureAwait(false);
