using RedisAgent.Load;
using RedisAgent.Load.Benchmarks;
using RedisAgent.Load.Harness;
using RedisAgent.Load.Scenarios;

// redis-load: every load scenario, one after the other, one report (Markdown + JSON); or one
// benchmark by name; or the 50,000-node model.
//   load/run [--long] [--only scrape-storm,...] [--agents 5000] [--aot-binary PATH]
//   load/run restart-latency --kills 20          (load/run benchmarks lists them)
//   load/run sizing [--nodes 50000]
// load/run gives this process (the load generator) a large first generation, so that it collects
// rarely: every collection stops its pacing, and the steps due meanwhile are charged with the pause.
// The servers it starts get the runtime's defaults, not this.
Environment.SetEnvironmentVariable("DOTNET_GCgen0size", null);

if (args is ["benchmarks"])
{
    foreach (var benchmark in Benchmarks.All)
    {
        Console.WriteLine($"{benchmark.Name,-22} {benchmark.Measures}");
    }

    return 0;
}

if (args is [var benchmarkName, .. var benchmarkArgs] && Benchmarks.Find(benchmarkName) is { } chosen)
{
    try
    {
        return await chosen.RunAsync(benchmarkArgs).ConfigureAwait(false);
    }
    catch (LoadUsageException ex)
    {
        await Console.Error.WriteLineAsync($"{chosen.Name}: {ex.Message}").ConfigureAwait(false);
        return 64;
    }
}

if (args is ["sizing", .. var sizingArgs])
{
    // The 50,000-node model and simulation (issue 14): no servers, a few seconds.
    const string SizingUsage = "usage: load/run sizing [--nodes N] [--agents-per-group N] [--days N] [--seed N] [--max-journal-lines N]";
    var inputs = new SizingInputs();
    for (var i = 0; i < sizingArgs.Length; i += 2)
    {
        if (i + 1 >= sizingArgs.Length || !int.TryParse(sizingArgs[i + 1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) || value < 1)
        {
            await Console.Error.WriteLineAsync($"sizing: {sizingArgs[i]} needs a whole number of at least 1\n{SizingUsage}").ConfigureAwait(false);
            return 64;
        }

        SizingInputs? next = sizingArgs[i] switch
        {
            "--nodes" => inputs with { Nodes = value },
            "--agents-per-group" => inputs with { AgentsPerGroup = value },
            "--days" => inputs with { Days = value },
            "--seed" => inputs with { Seed = value },
            "--max-journal-lines" => inputs with { MaxJournalLines = value },
            _ => null,
        };
        if (next is null)
        {
            await Console.Error.WriteLineAsync($"sizing: unknown option {sizingArgs[i]}\n{SizingUsage}").ConfigureAwait(false);
            return 64;
        }

        inputs = next;
    }

    Console.WriteLine(FleetSizing.Run(inputs).Markdown(inputs));
    return 0;
}

Options options;
try
{
    options = Options.Parse(args, new LoadArguments(args).OutDirectory);
}
catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
{
    await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
    return 64;
}

var scenarios = new List<Scenario>
{
    AgentScenarios.AtRest(options, "agent-at-rest", options.AgentBinary),
    AgentScenarios.ScrapeStorm(options),
    AgentScenarios.LogFirehose(options),
    AgentScenarios.RedisOverhead(options),
    FleetScenario.Create(options),
};
if (options.AotBinary is { } aot)
{
    scenarios.Insert(1, AgentScenarios.AtRest(options, "agent-at-rest-aot", aot));
    scenarios.Insert(2, AgentScenarios.AtRest(options, "agent-at-rest-drain", options.AgentBinary, drain: true));
    scenarios.Insert(3, AgentScenarios.AtRest(options, "agent-at-rest-drain-aot", aot, drain: true));
}

var selected = scenarios.Where(s => options.Only is null || options.Only.Contains(s.Name) || (s.Name.StartsWith("agent-at-rest", StringComparison.Ordinal) && options.Only.Contains("agent-at-rest"))).ToArray();
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

var report = await LoadRunner.RegisterScenarios(selected)
    .WithTitle(options.Long ? "redis-agent load scenarios (long)" : "redis-agent load scenarios")
    .WithReportFolder(options.Out)
    .RunAsync(line => Console.WriteLine(line), stop.Token)
    .ConfigureAwait(false);
Console.WriteLine();
Console.WriteLine(ReportWriter.Markdown(report));
Console.WriteLine("Report: " + string.Join(", ", report.Files));
return report.Scenarios.Any(s => s.Error is not null) ? 1 : 0;
