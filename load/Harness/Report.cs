using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace RedisAgent.Load.Harness;

public sealed record LatencyReport(double P50Ms, double P75Ms, double P95Ms, double P99Ms, double P999Ms, double MaxMs, double MeanMs);

public sealed record ScenarioReport(
    string Name,
    string Description,
    IReadOnlyList<string> Load,
    double Seconds,
    long Ok,
    long Failed,
    long Dropped,
    double OkPerSecond,
    long Bytes,
    LatencyReport Latency,
    IReadOnlyList<KeyValuePair<string, long>> Errors,
    string? Error,
    IReadOnlyList<KeyValuePair<string, string>> Figures,
    double StartLagP99Ms = 0)
{
    public string Summary() => string.Create(CultureInfo.InvariantCulture,
        $"{Name}: {Ok} ok, {Failed} failed, {Dropped} dropped, {OkPerSecond:0.#}/s, p50 {Latency.P50Ms:0.###} ms, p99 {Latency.P99Ms:0.###} ms, max {Latency.MaxMs:0.###} ms{(Error is null ? "" : "; ERROR " + Error)}");
}

/// <param name="HandOffMicroseconds">
/// What one thread waking another costs on this machine (<see cref="HandOff.Measure"/>), measured as
/// the run starts. An idle agent's CPU is mostly such wake-ups, so its figure compares across
/// machines only beside this one (docs/benchmarks.md: the agent at rest).
/// </param>
public sealed record MachineDescription(int Cores, string Os, string Runtime, string Cpu, double HandOffMicroseconds = 0)
{
    public static MachineDescription Current(double handOffMicroseconds = 0)
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?"
            : "?";
        return new(Environment.ProcessorCount, System.Runtime.InteropServices.RuntimeInformation.OSDescription, System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription, cpu, handOffMicroseconds);
    }
}

public sealed record RunReport(string Title, DateTimeOffset Started, DateTimeOffset Finished, MachineDescription Machine, IReadOnlyList<ScenarioReport> Scenarios)
{
    /// <summary>Where the report was written (Markdown, JSON).</summary>
    [JsonIgnore]
    public IReadOnlyList<string> Files { get; set; } = [];
}

/// <summary>Writes a run's report as Markdown (for people and docs/benchmarks.md) and JSON (for tools).</summary>
public static class ReportWriter
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static IReadOnlyList<string> Write(RunReport report, string folder)
    {
        Directory.CreateDirectory(folder);
        var stem = Path.Combine(folder, "load-" + report.Started.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        File.WriteAllText(stem + ".md", Markdown(report));
        File.WriteAllText(stem + ".json", JsonSerializer.Serialize(report, Json));
        return [stem + ".md", stem + ".json"];
    }

    public static string Markdown(RunReport report)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"# {report.Title}");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"{report.Started:yyyy-MM-dd HH:mm} UTC, {(report.Finished - report.Started).TotalMinutes:0.#} min; {report.Machine.Cores} cores ({report.Machine.Cpu}), {report.Machine.Os}, {report.Machine.Runtime}{(report.Machine.HandOffMicroseconds > 0 ? string.Create(CultureInfo.InvariantCulture, $"; a thread waking another costs {report.Machine.HandOffMicroseconds:0.#} µs here") : "")}.");
        foreach (var s in report.Scenarios)
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"## {s.Name}");
            text.AppendLine();
            if (s.Description.Length > 0)
            {
                text.AppendLine(s.Description);
                text.AppendLine();
            }

            if (s.Error is not null)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"**The scenario failed:** {s.Error}");
                text.AppendLine();
            }

            text.AppendLine("| load | seconds | ok | failed | dropped | ok/s | p50 ms | p75 ms | p95 ms | p99 ms | p99.9 ms | max ms | mean ms | start lag p99 ms |");
            text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            var l = s.Latency;
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {string.Join("; ", s.Load)} | {s.Seconds:0.#} | {s.Ok} | {s.Failed} | {s.Dropped} | {s.OkPerSecond:0.#} | {l.P50Ms:0.###} | {l.P75Ms:0.###} | {l.P95Ms:0.###} | {l.P99Ms:0.###} | {l.P999Ms:0.###} | {l.MaxMs:0.###} | {l.MeanMs:0.###} | {s.StartLagP99Ms:0.###} |");
            text.AppendLine();
            text.AppendLine("Latency runs from when a step was due; the start lag is how late the generator itself started steps (part of the latency).");
            if (s.Errors.Count > 0)
            {
                text.AppendLine();
                text.AppendLine("Errors: " + string.Join("; ", s.Errors.Select(e => $"{e.Value} × {e.Key}")));
            }

            if (s.Figures.Count > 0)
            {
                text.AppendLine();
                text.AppendLine("| figure | value |");
                text.AppendLine("|---|---|");
                foreach (var (name, value) in s.Figures)
                {
                    text.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {value} |");
                }
            }
        }

        return text.ToString();
    }
}
