using System.Globalization;

namespace RedisAgent.Load.Scenarios;

/// <summary>redis-load's command line.</summary>
internal sealed record Options(TimeSpan Duration, bool Long, int Agents, string AgentBinary, string? AotBinary, IReadOnlySet<string>? Only, string Out, TimeSpan FleetWindow, string FleetStore = "file", string? FailoverBinary = null, TimeSpan FleetWarmUp = default, bool LeanReports = false)
{
    public const string Usage = """
        usage: redis-load [--long] [--duration SECONDS] [--agents N] [--only a,b] [--aot-binary PATH] [--failover-binary PATH] [--out DIR]
          (default)        every scenario, 10 s each at a constant rate: a few minutes in all
          --long           60 s each, ramps instead of constant rates
          --agents N       simulated agents for coordinator-fleet (default 5000)
          --fleet-window S coordinator-fleet's confirmation window (default 10; --long: 120, Heroku's)
          --fleet-store S  coordinator-fleet's store: file (default) or etcd (a 3-member etcd on loopback aliases)
          --fleet-warm-up S
                           coordinator-fleet's load for S seconds before the measured part (default
                           20: the fleet's first collections, which promote 5,000 streams' state,
                           are kept out of a steady fleet's figures; 0 measures from the first report)
          --fleet-report R coordinator-fleet's reports: agent (default; every field a real agent sends,
                           the previous release's names, version, persistence and plan use included)
                           or lean (the enums and offsets only, as every figure before 2026-12-03 has)
          --only a,b       only these scenarios: scrape-storm, log-firehose, coordinator-fleet, redis-overhead, agent-at-rest
          --aot-binary P   also measure a NativeAOT build of redis-agent at rest (agent-at-rest-aot)
          --failover-binary P
                           the redis-failover coordinator-fleet runs (default: this build's, JIT); a
                           NativeAOT build measures what ships (scripts/publish-aot)
          --out DIR        where the Markdown and JSON reports go (default load/results)
        """;

    /// <summary>A constant rate for the short run; a ramp for --long.</summary>
    public Harness.LoadSimulation Rate(int constant, int rampFrom, int rampTo) =>
        Long ? new Harness.LoadSimulation.RampingInject(rampFrom, rampTo, Duration) : new Harness.LoadSimulation.Inject(constant, Duration);

    public static Options Parse(string[] args, string defaultOut)
    {
        var duration = (TimeSpan?)null;
        var longRun = false;
        var agents = 5000;
        string? aot = null;
        HashSet<string>? only = null;
        var output = defaultOut;
        int? window = null;
        var store = "file";
        string? failover = null;
        var warmUp = 20;
        var lean = false;
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value\n{Usage}");
            switch (args[i])
            {
                case "--long":
                    longRun = true;
                    break;
                case "--duration":
                    duration = TimeSpan.FromSeconds(int.Parse(Value(), NumberStyles.None, CultureInfo.InvariantCulture));
                    break;
                case "--agents":
                    agents = Math.Max(9, int.Parse(Value(), NumberStyles.None, CultureInfo.InvariantCulture) / 3 * 3);
                    break;
                case "--only":
                    only = [.. Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                    break;
                case "--aot-binary":
                    aot = Path.GetFullPath(Value());
                    break;
                case "--failover-binary":
                    failover = Path.GetFullPath(Value());
                    if (!File.Exists(failover))
                    {
                        throw new ArgumentException($"--failover-binary: no file at {failover}\n{Usage}");
                    }

                    break;
                case "--fleet-window":
                    window = int.Parse(Value(), NumberStyles.None, CultureInfo.InvariantCulture);
                    break;
                case "--fleet-store":
                    store = Value();
                    if (store is not ("file" or "etcd"))
                    {
                        throw new ArgumentException($"--fleet-store is file or etcd\n{Usage}");
                    }

                    break;
                case "--fleet-warm-up":
                    warmUp = int.Parse(Value(), NumberStyles.None, CultureInfo.InvariantCulture);
                    break;
                case "--fleet-report":
                    lean = Value() switch
                    {
                        "agent" => false,
                        "lean" => true,
                        _ => throw new ArgumentException($"--fleet-report is agent or lean\n{Usage}"),
                    };
                    break;
                case "--out":
                    output = Value();
                    break;
                default:
                    throw new ArgumentException($"unknown argument '{args[i]}'\n{Usage}");
            }
        }

        return new Options(duration ?? TimeSpan.FromSeconds(longRun ? 60 : 10), longRun, agents, Path.Combine(AppContext.BaseDirectory, "redis-agent"), aot, only, output, TimeSpan.FromSeconds(window ?? (longRun ? 120 : 10)), store, failover, TimeSpan.FromSeconds(warmUp), lean);
    }
}
