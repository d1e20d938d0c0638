using System.Globalization;

namespace RedisAgent.Demo;

/// <summary>
/// One console for every process of the demo: each line under the name of the process it came
/// from, one writer at a time so lines never interleave.
/// </summary>
internal sealed class DemoConsole
{
    private const int NameWidth = 11;
    private readonly Lock _lock = new();

    /// <summary>A line from a child process; the UTC timestamp its logger put first is shortened to the time of day.</summary>
    public void Child(string name, string line)
    {
        var time = DateTime.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
        // "2026-11-26T08:15:50.218Z info: ..." → "08:15:50.218" + "info: ..."
        if (line.Length > 25 && line[4] == '-' && line[10] == 'T' && line[23] == 'Z' && line[24] == ' ')
        {
            time = line[11..23];
            line = line[25..];
        }

        Write(time, name, line);
    }

    /// <summary>A line of the demo's own.</summary>
    public void Say(string line) => Write(DateTime.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture), "demo", line);

    /// <summary>Lines printed as they are (the banner, help).</summary>
    public void Block(string text)
    {
        lock (_lock)
        {
            Console.Out.WriteLine(text);
            Console.Out.Flush();
        }
    }

    private void Write(string time, string name, string line)
    {
        lock (_lock)
        {
            Console.Out.WriteLine($"{time} {name.PadRight(NameWidth)}| {line}");
            Console.Out.Flush();
        }
    }
}
