using RedisFailover.Cli;
using RedisFailover.Hosting;

// redis-failover: the coordinator daemon; `redis-failover status|history` talk to a running one.
return args.Length > 0 && AdminCommand.Verbs.Contains(args[0])
    ? await AdminCommand.RunAsync(args).ConfigureAwait(false)
    : await FailoverHost.RunAsync(args).ConfigureAwait(false);
