using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace RedisAgent.Logs;

/// <summary>
/// Follows Redis's log file (<c>Logs:File</c>), like <c>tail -F</c>: it waits for a file that does
/// not exist yet; after a rotation by rename (the path names a new file) it finishes the old one
/// and reads the new one from its start; after a copy-truncate (the file shrank) it starts over
/// at the beginning. A partial last line waits for its end.
/// <para>Limits, as for every tailer: lines written between logrotate's copy and its truncate are
/// lost, and a truncated file that grew past the old position before the next poll is read from
/// that position (use rotation by rename, which Redis handles by reopening its file per line).</para>
/// </summary>
internal sealed partial class LogFileTailer(
    RedisLogIngest ingest,
    LogBus bus,
    IOptions<LogOptions> options,
    TimeProvider time,
    ILogger<LogFileTailer> logger) : BackgroundService
{
    private readonly LogOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (string.IsNullOrWhiteSpace(_options.File))
        {
            return;
        }

        var path = Path.GetFullPath(_options.File);
        var buffer = new byte[64 * 1024];
        // inotify (through FileSystemWatcher) wakes the loop the moment the file changes; the poll
        // interval stays as the fallback for what inotify misses (some network file systems).
        var wakeup = new Node.ProbeWakeup();
        using var watcher = Watch(path, wakeup);
        FileStream? stream = null;
        ulong inode = 0;
        var splitter = new LineSplitter();
        var first = true;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    if (stream is null && TryOpen(path, out stream, out inode))
                    {
                        Log.Following(logger, path);
                        if (first && !_options.FileFromStart)
                        {
                            // At agent start, the past is not news: follow from the end, as tail -F does.
                            stream!.Seek(0, SeekOrigin.End);
                        }
                    }

                    first = false;
                    if (stream is not null)
                    {
                        await ReadAvailableAsync(stream, buffer, splitter, stoppingToken).ConfigureAwait(false);
                        var now = Inode(path);
                        if (now != inode)
                        {
                            // Rotated by rename (or deleted): the old file is finished, the next one starts at 0.
                            await ReadAvailableAsync(stream, buffer, splitter, stoppingToken).ConfigureAwait(false);
                            Emit(splitter.Flush());
                            await stream.DisposeAsync().ConfigureAwait(false);
                            stream = null;
                            Log.Rotated(logger, path);
                            continue;
                        }

                        if (stream.Length < stream.Position)
                        {
                            Log.Truncated(logger, path);
                            Emit(splitter.Flush());
                            stream.Seek(0, SeekOrigin.Begin);
                            continue;
                        }
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.ReadFailed(logger, path, $"{ex.GetType().Name}: {ex.Message}");
                    if (stream is not null)
                    {
                        await stream.DisposeAsync().ConfigureAwait(false);
                        stream = null;
                    }
                }

                await wakeup.WaitAsync(_options.FilePollInterval, time, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task ReadAvailableAsync(FileStream stream, byte[] buffer, LineSplitter splitter, CancellationToken cancellationToken)
    {
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            foreach (var line in splitter.Feed(buffer.AsSpan(0, read)))
            {
                Emit(line);
            }

            // A backlog (a burst, or a file read from its start) waits briefly for drains that are
            // slower but moving, rather than overflowing their queues; see LogBus.WaitForRoomAsync.
            await bus.WaitForRoomAsync(RoomGrace, time, cancellationToken).ConfigureAwait(false);
        }
    }

    private static readonly TimeSpan RoomGrace = TimeSpan.FromSeconds(1);

    private static FileSystemWatcher? Watch(string path, Node.ProbeWakeup wakeup)
    {
        try
        {
            var watcher = new FileSystemWatcher(Path.GetDirectoryName(path)!, Path.GetFileName(path))
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.LastWrite,
            };
            watcher.Changed += (_, _) => wakeup.Wake();
            watcher.Created += (_, _) => wakeup.Wake();
            watcher.Renamed += (_, _) => wakeup.Wake();
            watcher.Deleted += (_, _) => wakeup.Wake();
            watcher.EnableRaisingEvents = true;
            return watcher;
        }
        catch (Exception ex) when (ex is ArgumentException or IOException or PlatformNotSupportedException)
        {
            // No directory yet, or no inotify instances left: polling alone still works.
            return null;
        }
    }

    private void Emit(SplitLine? line)
    {
        if (line is { } split && (split.Text.Length > 0 || split.DroppedBytes > 0))
        {
            _ = ingest.Ingest(split.Text, split.DroppedBytes);
        }
    }

    private static bool TryOpen(string path, out FileStream? stream, out ulong inode)
    {
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
            inode = FileInode(stream);
            return true;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            stream = null;
            inode = 0;
            return false;
        }
    }

    // struct stat on x86_64 and aarch64 Linux (glibc): st_dev (8 bytes), then st_ino (8 bytes).
    private const int StatSize = 256;
    private const int InodeOffset = 8;

    /// <summary>The inode the path names now; 0 when nothing is there.</summary>
    private static unsafe ulong Inode(string path)
    {
        var buffer = stackalloc byte[StatSize];
        return Stat(path, buffer) == 0 ? *(ulong*)(buffer + InodeOffset) : 0;
    }

    private static unsafe ulong FileInode(FileStream stream)
    {
        var buffer = stackalloc byte[StatSize];
        return FStat((int)stream.SafeFileHandle.DangerousGetHandle(), buffer) == 0 ? *(ulong*)(buffer + InodeOffset) : 0;
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Stat(string path, byte* buffer);

    [LibraryImport("libc", EntryPoint = "fstat")]
    private static unsafe partial int FStat(int fd, byte* buffer);

    private static partial class Log
    {
        [LoggerMessage(EventId = 1511, Level = LogLevel.Information, Message = "Following Redis's log file {Path}")]
        public static partial void Following(ILogger logger, string path);

        [LoggerMessage(EventId = 1512, Level = LogLevel.Information, Message = "Redis's log file {Path} was rotated; following the new one")]
        public static partial void Rotated(ILogger logger, string path);

        [LoggerMessage(EventId = 1513, Level = LogLevel.Information, Message = "Redis's log file {Path} was truncated; reading it from the start")]
        public static partial void Truncated(ILogger logger, string path);

        [LoggerMessage(EventId = 1514, Level = LogLevel.Warning, Message = "Reading Redis's log file {Path} failed: {Message}")]
        public static partial void ReadFailed(ILogger logger, string path, string message);
    }
}
