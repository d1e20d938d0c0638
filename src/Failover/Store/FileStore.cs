using System.Text.Json;
using System.Text.Json.Serialization;
using RedisFailover.Coordination;

namespace RedisFailover.Store;

/// <summary>What must survive a coordinator restart for one resource: the term, its primary, the settings, the pause.</summary>
internal sealed record ResourceRecord(long Term, string? Primary, long? TimeoutSeconds, string? MaxMemoryPolicy, bool Paused)
{
    public static ResourceRecord Empty { get; } = new(0, null, null, null, false);
}

/// <summary>One line of the decision journal.</summary>
internal sealed record JournalRecord(DateTimeOffset At, long Term, string Incident, string Kind, string Text);

/// <summary>
/// The coordinator's durable store on local disk: one record per resource, replaced atomically
/// (write, fsync, rename, fsync the directory), and an append-only journal flushed to disk line
/// by line. A term is on disk before any command of it leaves.
/// </summary>
internal sealed class FileStore
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
    private readonly string _directory;
    private readonly Lock _lock = new();

    public FileStore(string directory)
    {
        _directory = directory;
        Directory.CreateDirectory(directory);
    }

    public ResourceRecord Load(string resource)
    {
        var path = RecordPath(resource);
        return File.Exists(path) ? JsonSerializer.Deserialize<ResourceRecord>(File.ReadAllText(path), Json) ?? ResourceRecord.Empty : ResourceRecord.Empty;
    }

    public void Save(string resource, ResourceRecord record)
    {
        lock (_lock)
        {
            var path = RecordPath(resource);
            var temporary = path + ".tmp";
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                JsonSerializer.Serialize(stream, record, Json);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
            SyncDirectory();
        }
    }

    public void Append(string resource, JournalRecord record)
    {
        lock (_lock)
        {
            using var stream = new FileStream(JournalPath(resource), FileMode.Append, FileAccess.Write, FileShare.Read);
            var line = JsonSerializer.SerializeToUtf8Bytes(record, Json);
            stream.Write(line);
            stream.WriteByte((byte)'\n');
            stream.Flush(flushToDisk: true);
        }
    }

    public IReadOnlyList<JournalRecord> Journal(string resource)
    {
        var path = JournalPath(resource);
        if (!File.Exists(path))
        {
            return [];
        }

        var records = new List<JournalRecord>();
        foreach (var line in File.ReadAllLines(path))
        {
            try
            {
                if (line.Length > 0 && JsonSerializer.Deserialize<JournalRecord>(line, Json) is { } record)
                {
                    records.Add(record);
                }
            }
            catch (JsonException)
            {
                // A line cut short by a crash mid-write: the lines before it stand.
            }
        }

        return records;
    }

    private string RecordPath(string resource) => Path.Combine(_directory, $"{resource}.state.json");

    private string JournalPath(string resource) => Path.Combine(_directory, $"{resource}.journal.jsonl");

    private void SyncDirectory()
    {
        // fsync on the directory makes the rename itself durable, where the runtime lets us open one.
        try
        {
            using var handle = File.OpenHandle(_directory, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.None);
            RandomAccess.FlushToDisk(handle);
        }
        catch (UnauthorizedAccessException)
        {
        }
        catch (IOException)
        {
        }
    }
}
