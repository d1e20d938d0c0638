using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RedisFailover.Coordination;

namespace RedisFailover.Store;

/// <summary>
/// What must survive a coordinator restart for one resource: the term, its primary, the settings,
/// the pause, and the replicas seen in sync with the primary since its promotion (so that a
/// coordinator that takes over while the primary's host is gone still knows what it may promote).
/// Since 0.3 also the nodes, where each value in force came from, and what the configuration said when
/// the record was written (<see cref="Configured"/>): a value the configuration changed since then is
/// taken from the configuration, one it did not is kept (the last change wins, wherever it was made).
/// </summary>
internal sealed record ResourceRecord(
    long Term,
    string? Primary,
    long? TimeoutSeconds,
    string? MaxMemoryPolicy,
    bool Paused,
    string[]? InSync = null,
    NodeRecord[]? Nodes = null,
    ValueOrigins? Origins = null,
    ConfiguredValues? Configured = null)
{
    public static ResourceRecord Empty { get; } = new(0, null, null, null, false);
}

/// <summary>A node as the record keeps it.</summary>
internal sealed record NodeRecord(string Name, string Address, string Zone);

/// <summary>Where each value in force came from, in words (null: not managed).</summary>
internal sealed record ValueOrigins(string? Nodes, string? Timeout, string? MaxMemoryPolicy);

/// <summary>The configuration's values when the record was written.</summary>
internal sealed record ConfiguredValues(NodeRecord[] Nodes, long? TimeoutSeconds, string? MaxMemoryPolicy);

/// <summary>One line of the decision journal.</summary>
internal sealed record JournalRecord(DateTimeOffset At, long Term, string Incident, string Kind, string Text);

/// <summary>The store cannot be used: a directory that cannot be written, a record that cannot be read.</summary>
internal sealed class StoreException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The coordinator's durable store on local disk: one record per resource, replaced atomically
/// (write, fsync, rename, fsync the directory), and an append-only journal flushed to disk line
/// by line. A term is on disk before any command of it leaves (<see cref="ResourceCoordinator"/>
/// holds every effect behind a record it could not write). A journal line cut short by a crash
/// is cut off when the journal is next opened, so that it cannot swallow the line after it.
/// </summary>
internal sealed partial class FileStore : ICoordinatorStore
{
    // Source-generated (StoreJson below): the NativeAOT build has no reflection-based serializer.
    private static readonly StoreJson Json = StoreJson.Default;
    private readonly string _directory;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly HashSet<string> _repaired = new(StringComparer.Ordinal);

    /// <summary>Opens the store, refusing one that cannot be written: better no coordinator than one whose terms are not durable.</summary>
    public FileStore(string directory, ILogger<FileStore>? logger = null)
    {
        _directory = directory;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        var probe = Path.Combine(directory, ".write-test");
        try
        {
            // Terms, settings and the journal are nobody else's business: the directory is the owner's alone.
            System.IO.Directory.CreateDirectory(directory, OwnerOnlyDirectory);
            using (var stream = new FileStream(probe, Private(FileMode.Create)))
            {
                stream.WriteByte((byte)'\n');
                stream.Flush(flushToDisk: true);
            }

            File.Delete(probe);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StoreException($"Failover:StoreDirectory '{directory}' cannot be written ({ex.Message}); the coordinator keeps its terms there and will not run without it.", ex);
        }
    }

    public string Directory => _directory;

    public string Describe => _directory;

    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Files the store creates are 0600, whatever the umask (outside systemd's UMask=0077 it is often 0022).</summary>
    private static FileStreamOptions Private(FileMode mode) => new()
    {
        Mode = mode,
        Access = FileAccess.Write,
        Share = mode == FileMode.Append ? FileShare.Read : FileShare.None,
        UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
    };

    /// <summary>The resource's record; <see cref="ResourceRecord.Empty"/> when there is none. A record that cannot be read stops the coordinator, naming the file.</summary>
    public ResourceRecord Load(string resource)
    {
        var path = RecordPath(resource);
        if (!File.Exists(path))
        {
            return ResourceRecord.Empty;
        }

        ResourceRecord? record;
        try
        {
            record = JsonSerializer.Deserialize(File.ReadAllText(path), Json.ResourceRecord);
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new StoreException(Unreadable(path, ex.Message), ex);
        }

        if (record is null || record.Term < 0)
        {
            throw new StoreException(Unreadable(path, record is null ? "it holds null" : $"term {record.Term} is negative"));
        }

        return record;
    }

    private static string Unreadable(string path, string why) =>
        $"the store's record '{path}' cannot be read: {why}. Restore it from a backup, or move it aside: the coordinator then starts " +
        "this resource from the agents' reports (it takes the highest term any agent has seen, and the node that reports role master).";

    public void Save(string resource, ResourceRecord record)
    {
        lock (_lock)
        {
            var path = RecordPath(resource);
            var temporary = path + ".tmp";
            try
            {
                using (var stream = new FileStream(temporary, Private(FileMode.Create)))
                {
                    JsonSerializer.Serialize(stream, record, Json.ResourceRecord);
                    stream.Flush(flushToDisk: true);
                }

                File.Move(temporary, path, overwrite: true);
            }
            catch
            {
                TryDelete(temporary);
                throw;
            }

            SyncDirectory();
        }
    }

    public void Append(string resource, JournalRecord record)
    {
        lock (_lock)
        {
            var path = JournalPath(resource);
            if (_repaired.Add(resource))
            {
                RepairTornTail(path);
            }

            using var stream = new FileStream(path, Private(FileMode.Append));
            var length = stream.Length;
            var line = JsonSerializer.SerializeToUtf8Bytes(record, Json.JournalRecord);
            try
            {
                // One write of the whole line: a crash leaves at most this line torn, repaired at the next open.
                var buffer = new byte[line.Length + 1];
                line.CopyTo(buffer, 0);
                buffer[^1] = (byte)'\n';
                stream.Write(buffer);
                stream.Flush(flushToDisk: true);
            }
            catch
            {
                // A full disk may have taken part of the line: cut it off, so the next line starts clean.
                try
                {
                    stream.SetLength(length);
                }
                catch (IOException)
                {
                    _repaired.Remove(resource);
                }

                throw;
            }
        }
    }

    /// <summary>The journal, oldest first. Lines that cannot be read are skipped, each with a warning naming it.</summary>
    public IReadOnlyList<JournalRecord> Journal(string resource)
    {
        var path = JournalPath(resource);
        if (!File.Exists(path))
        {
            return [];
        }

        var records = new List<JournalRecord>();
        var number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (line.Length == 0)
            {
                continue;
            }

            JournalRecord? record = null;
            try
            {
                record = JsonSerializer.Deserialize(line, Json.JournalRecord);
            }
            catch (JsonException)
            {
            }

            if (record is { Incident: not null, Kind: not null, Text: not null } && record.At != default)
            {
                records.Add(record);
            }
            else
            {
                Log.UnreadableLine(_logger, path, number, line.Length > 80 ? line[..80] + "..." : line);
            }
        }

        return records;
    }

    /// <summary>A journal whose last line has no newline was cut by a crash mid-write: that partial line is removed.</summary>
    private void RepairTornTail(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        if (stream.Length == 0)
        {
            return;
        }

        var position = stream.Length;
        var buffer = new byte[4096];
        while (position > 0)
        {
            var chunk = (int)Math.Min(buffer.Length, position);
            stream.Position = position - chunk;
            stream.ReadExactly(buffer, 0, chunk);
            var newline = Array.LastIndexOf(buffer, (byte)'\n', chunk - 1, chunk);
            if (newline >= 0)
            {
                var end = position - chunk + newline + 1;
                if (end == stream.Length)
                {
                    return;
                }

                Cut(stream, end, path);
                return;
            }

            position -= chunk;
        }

        Cut(stream, 0, path);
    }

    private void Cut(FileStream stream, long end, string path)
    {
        var torn = stream.Length - end;
        stream.Position = end;
        var text = new byte[Math.Min(torn, 80)];
        stream.ReadExactly(text);
        Log.TornTail(_logger, path, torn, Encoding.UTF8.GetString(text));
        stream.SetLength(end);
        stream.Flush(flushToDisk: true);
    }

    private string RecordPath(string resource) => Path.Combine(_directory, $"{resource}.state.json");

    private string JournalPath(string resource) => Path.Combine(_directory, $"{resource}.journal.jsonl");

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

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

    private static partial class Log
    {
        [LoggerMessage(EventId = 2040, Level = LogLevel.Warning, Message = "Journal {Path}: its last {Bytes} bytes were a line cut short by a crash ('{Text}'); removed, so the next line starts clean")]
        public static partial void TornTail(ILogger logger, string path, long bytes, string text);

        [LoggerMessage(EventId = 2041, Level = LogLevel.Warning, Message = "Journal {Path} line {Line} cannot be read and is skipped: {Text}")]
        public static partial void UnreadableLine(ILogger logger, string path, int line, string text);
    }
}

/// <summary>The store's files in JSON as the web writes it (camelCase, nulls left out), generated at build time.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ResourceRecord))]
[JsonSerializable(typeof(JournalRecord))]
internal sealed partial class StoreJson : JsonSerializerContext;
