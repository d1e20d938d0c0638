using System.Diagnostics.Metrics;

namespace RedisShared.Hosting;

/// <summary>
/// The connections Kestrel closes as they come because its <c>MaxConcurrentConnections</c> are open,
/// read from its <c>kestrel.rejected_connections</c> instrument. Kestrel's own log line for each (category
/// <see cref="Category"/>, a warning) would let a flood of connections flood the journal: each program
/// keeps that category to errors and says the refusals its own way, counted and at most once a minute.
/// </summary>
internal static class KestrelRejections
{
    /// <summary>Kestrel's category for its line a refused connection.</summary>
    public const string Category = "Microsoft.AspNetCore.Server.Kestrel.Connections";

    /// <summary>Calls <paramref name="refused"/> with each count Kestrel records, until disposed.</summary>
    public static IDisposable Listen(Action<long> refused)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument is { Name: "kestrel.rejected_connections", Meter.Name: "Microsoft.AspNetCore.Server.Kestrel" })
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => refused(value));
        listener.Start();
        return listener;
    }
}
