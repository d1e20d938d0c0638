using System.Globalization;
using System.Text;
using RedisAgent.Sampling;

namespace RedisAgent.Metrics;

/// <summary>
/// <c>redis_latency_percentiles_usec</c>, redis_exporter's summary of Redis 7's
/// <c>INFO latencystats</c>: per command, the quantiles Redis computed (labelled 50, 99, 99.9 as
/// the exporter labels them), with <c>INFO commandstats</c>' calls as the count and its
/// microseconds as the sum. prometheus-net computes its own summaries and cannot carry values
/// computed elsewhere, so this family is written as text after the registry's.
/// </summary>
internal static class LatencySummaries
{
    public const string Name = "redis_latency_percentiles_usec";
    private const string Prefix = "latency_percentiles_usec_";

    /// <summary>The family's text for <paramref name="sample"/>; empty when the server has no latency stats (before Redis 7).</summary>
    public static string Render(RedisSample sample)
    {
        StringBuilder? text = null;
        foreach (var (key, value) in sample.Info.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (!key.StartsWith(Prefix, StringComparison.Ordinal) || key.Length == Prefix.Length)
            {
                continue;
            }

            var command = key[Prefix.Length..];
            if (!sample.Info.TryGetValue("cmdstat_" + command, out var stat))
            {
                continue;
            }

            var stats = InfoParser.ParseFields(stat);
            if (Number(stats.GetValueOrDefault("calls")) is not { } calls || Number(stats.GetValueOrDefault("usec")) is not { } usec)
            {
                continue;
            }

            var quantiles = new List<(string Quantile, double Value)>();
            foreach (var (name, percentile) in InfoParser.ParseFields(value))
            {
                // p50=1.003: the label is the number after the p, as the exporter writes it.
                if (name.Length > 1 && name[0] == 'p' && Number(name[1..]) is { } q && Number(percentile) is { } v)
                {
                    quantiles.Add((q.ToString("R", CultureInfo.InvariantCulture), v));
                }
            }

            if (quantiles.Count == 0)
            {
                continue;
            }

            if (text is null)
            {
                text = new StringBuilder();
                text.Append("# HELP ").Append(Name).Append(" A summary of latency percentile distribution per command: INFO latencystats and commandstats (sampled; see redis_agent_sample_age_seconds)\n");
                text.Append("# TYPE ").Append(Name).Append(" summary\n");
            }

            var label = Escape(command);
            foreach (var (quantile, v) in quantiles)
            {
                text.Append(Name).Append("{cmd=\"").Append(label).Append("\",quantile=\"").Append(quantile).Append("\"} ").Append(Format(v)).Append('\n');
            }

            text.Append(Name).Append("_sum{cmd=\"").Append(label).Append("\"} ").Append(Format(usec)).Append('\n');
            text.Append(Name).Append("_count{cmd=\"").Append(label).Append("\"} ").Append(Format(calls)).Append('\n');
        }

        return text?.ToString() ?? "";
    }

    private static double? Number(string? text) =>
        text is not null && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value) ? value : null;

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A label value as the text format wants it: backslash, quote and newline escaped.</summary>
    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
