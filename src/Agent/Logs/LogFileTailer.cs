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
        // inotify (through FileSystemWatcher) wakes the loop the moment the file changes; while it
        // watches, a check every FileWatchedPollInterval is the fallback for what it misses (another
        // host's writes on NFS); while it cannot (no directory yet, no inotify instances left), the loop
        // checks every FilePollInterval and watches again once the file opens; a watch that reports an
        // error (its queue overflowed) is made again at the next check.
        var wakeup = new Node.ProbeWakeup();
        var watch = new FileWatch(path, wakeup, _options, logger);
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
                        watch.EnsureWatching();
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

                if (watch.Failed)
                {
                    // Once per error, not on every check: where inotify cannot watch at all, polling carries on alone.
                    watch.EnsureWatching();
                }

                await wakeup.WaitAsync(watch.Watching ? _options.FileWatchedPollInterval : _options.FilePollInterval, time, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            watch.Dispose();
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

    /// <summary>The inotify watch of the file's directory, made again when it could not be made or failed.</summary>
    private sealed class FileWatch : IDisposable
    {
        private readonly string _path;
        private readonly Node.ProbeWakeup _wakeup;
        private readonly LogOptions _options;
        private readonly ILogger _logger;
        private FileSystemWatcher? _watcher;
        private volatile bool _failed;

        public FileWatch(string path, Node.ProbeWakeup wakeup, LogOptions options, ILogger logger)
        {
            _path = path;
            _wakeup = wakeup;
            _options = options;
            _logger = logger;
            EnsureWatching();
        }

        /// <summary>True while inotify watches the file, so that a change wakes the loop at once.</summary>
        public bool Watching => _watcher is not null && !_failed;

        /// <summary>True once the watch reported an error (its queue overflowed, or it broke): made again by the next <see cref="EnsureWatching"/>.</summary>
        public bool Failed => _failed;

        /// <summary>Watches the file's directory if nothing does (the directory has appeared since, or the last watch failed).</summary>
        public void EnsureWatching()
        {
            if (Watching)
            {
                return;
            }

            _watcher?.Dispose();
            _watcher = null;
            _failed = false;
            try
            {
                var watcher = new FileSystemWatcher(Path.GetDirectoryName(_path)!, Path.GetFileName(_path))
                {
                    NotifyFilter = NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.LastWrite,
                };
                watcher.Changed += (_, _) => _wakeup.Wake();
                watcher.Created += (_, _) => _wakeup.Wake();
                watcher.Renamed += (_, _) => _wakeup.Wake();
                watcher.Deleted += (_, _) => _wakeup.Wake();
                // An overflowed or broken watch may have lost events: the loop reads at once, and watches again.
                watcher.Error += (_, e) =>
                {
                    _failed = true;
                    Log.NotWatched(_logger, _path, e.GetException().Message, _options.FilePollInterval.TotalMilliseconds);
                    _wakeup.Wake();
                };
                watcher.EnableRaisingEvents = true;
                _watcher = watcher;
                Log.Watched(_logger, _path, _options.FileWatchedPollInterval.TotalSeconds);
            }
            catch (Exception ex) when (ex is ArgumentException or IOException or PlatformNotSupportedException)
            {
                // No directory yet, or no inotify instances left: polling alone still works.
                Log.NotWatched(_logger, _path, ex.Message, _options.FilePollInterval.TotalMilliseconds);
            }
        }

        public void Dispose() => _watcher?.Dispose();
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

        [LoggerMessage(EventId = 1516, Level = LogLevel.Information, Message = "inotify watches Redis's log file {Path}: a change is read at once, and the file is checked every {Seconds} s besides")]
        public static partial void Watched(ILogger logger, string path, double seconds);

        [LoggerMessage(EventId = 1517, Level = LogLevel.Warning, Message = "inotify cannot watch Redis's log file {Path} ({Reason}): it is checked every {Milliseconds} ms until it can")]
        public static partial void NotWatched(ILogger logger, string path, string reason, double milliseconds);

        [LoggerMessage(EventId = 1514, Level = LogLevel.Warning, Message = "Reading Redis's log file {Path} failed: {Message}")]
        public static partial void ReadFailed(ILogger logger, string path, string message);
    }
}
