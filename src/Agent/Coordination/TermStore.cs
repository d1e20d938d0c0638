using System.Globalization;

namespace RedisAgent.Coordination;

/// <summary>The highest coordinator term this agent has seen, kept on disk so that a restarted agent still refuses older ones.</summary>
internal sealed class TermStore(string directory)
{
    private readonly Lock _lock = new();
    private long? _highest;

    private string FilePath => Path.Combine(directory, "coordinator-term");

    public long Highest
    {
        get
        {
            lock (_lock)
            {
                return _highest ??= File.Exists(FilePath) && long.TryParse(File.ReadAllText(FilePath).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var term) ? term : 0;
            }
        }
    }

    /// <summary>Accepts <paramref name="term"/> when it is not older than the highest seen (and records it); false when it is.</summary>
    public bool TryAccept(long term)
    {
        lock (_lock)
        {
            var highest = Highest;
            if (term < highest)
            {
                return false;
            }

            if (term > highest)
            {
                Directory.CreateDirectory(directory);
                var temporary = FilePath + ".tmp";
                using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write))
                {
                    stream.Write(System.Text.Encoding.ASCII.GetBytes(term.ToString(CultureInfo.InvariantCulture)));
                    stream.Flush(flushToDisk: true);
                }

                File.Move(temporary, FilePath, overwrite: true);
                _highest = term;
            }

            return true;
        }
    }
}
