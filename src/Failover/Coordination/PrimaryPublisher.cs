using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RedisFailover.Hosting;
using RedisFailover.Protos;

namespace RedisFailover.Coordination;

/// <summary>
/// Tells applications where each resource's primary is: a <c>REDIS_URL</c> file rewritten
/// atomically, a hook command, and the admin API's watch streams.
/// </summary>
internal sealed partial class PrimaryPublisher(IOptions<ResourcesOptions> resources, ILogger<PrimaryPublisher> logger)
{
    private readonly ConcurrentDictionary<string, PrimaryAddress> _current = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Channel<PrimaryAddress>, string> _watchers = new();

    // Publish commands still running: a stop waits for them (each is bounded by HookTimeout).
    private readonly ConcurrentDictionary<Task, byte> _hooks = new();

    /// <summary>How long a publish command may run before it is killed.</summary>
    internal static readonly TimeSpan HookTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Waits for the publish commands still running (the coordinator's stop calls it).</summary>
    public Task HooksFinishedAsync() => Task.WhenAll(_hooks.Keys);

    private void Track(Task hook)
    {
        _hooks.TryAdd(hook, 0);
        _ = hook.ContinueWith(done => _hooks.TryRemove(done, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Publishes the primary everywhere; returns why the URL file could not be written (it is retried), or null.</summary>
    public string? Publish(string resource, string node, string address, long term)
    {
        string? failure = null;
        var options = resources.Value.Items.FirstOrDefault(r => r.Name == resource);
        var url = UrlFor(resource, options, address, tls: null);
        // Heroku's REDIS_TLS_URL: the same node's TLS port, beside a plain REDIS_URL.
        var tlsUrl = options is { Tls: false } && options.Nodes.FirstOrDefault(n => n.Name == node)?.TlsAddress is { Length: > 0 } tlsAddress
            ? UrlFor(resource, options, tlsAddress, tls: true)
            : null;
        var published = new PrimaryAddress { Resource = resource, Node = node, Address = address, Term = term, Url = url, TlsUrl = tlsUrl ?? "" };
        _current[resource] = published;
        foreach (var (watcher, watched) in _watchers)
        {
            if (watched == resource)
            {
                watcher.Writer.TryWrite(published);
            }
        }

        if (options?.UrlFile is { Length: > 0 } file)
        {
            _pendingFiles[resource] = (file, $"REDIS_URL={url}\n" + (tlsUrl is null ? "" : $"REDIS_TLS_URL={tlsUrl}\n"));
            failure = WritePending(resource);
        }

        if (options?.PublishCommand is { Length: > 0 } command)
        {
            Track(RunHookAsync(resource, command, url, tlsUrl));
        }

        Log.Published(logger, resource, node, address, term);
        return failure;
    }

    /// <summary>URL files that could not be written yet, tried again by <see cref="RetryFiles"/>.</summary>
    private readonly ConcurrentDictionary<string, (string File, string Content)> _pendingFiles = new(StringComparer.Ordinal);

    /// <summary>URL files whose last write failed: a failover is never aborted by a file, only reported.</summary>
    public int PendingFiles => _pendingFiles.Count;

    /// <summary>Tries again every URL file whose write failed (the coordinator's tick calls it).</summary>
    public void RetryFiles()
    {
        foreach (var resource in _pendingFiles.Keys)
        {
            _ = WritePending(resource);
        }
    }

    private string? WritePending(string resource)
    {
        if (!_pendingFiles.TryGetValue(resource, out var pending))
        {
            return null;
        }

        try
        {
            WriteUrlFile(pending.File, pending.Content, resources.Value.Items.FirstOrDefault(r => r.Name == resource));
            _pendingFiles.TryRemove(new KeyValuePair<string, (string, string)>(resource, pending));
            if (_failing.TryRemove(resource, out _))
            {
                Log.UrlFileRecovered(logger, resource, pending.File);
            }

            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (_failing.TryAdd(resource, 0))
            {
                // Once per outage: it is retried every tick.
                Log.UrlFileFailed(logger, resource, pending.File, ex.Message);
            }

            return $"the URL file {pending.File} could not be written ({ex.Message}); applications reading it still see the old primary; retried every tick";
        }
    }

    private readonly ConcurrentDictionary<string, byte> _failing = new(StringComparer.Ordinal);

    /// <summary>Writes the file atomically with the configured mode (and group), so that applications can read it whatever the umask.</summary>
    internal static void WriteUrlFile(string file, string content, ResourceOptions? options)
    {
        var temporary = file + ".tmp";
        var mode = options?.EffectiveUrlFileMode ?? ResourceOptions.DefaultUrlFileMode;
        try
        {
            using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                UnixCreateMode = mode,
            }))
            {
                stream.Write(System.Text.Encoding.UTF8.GetBytes(content));
                stream.Flush(flushToDisk: true);
            }

            // The umask narrows the create mode: say the mode outright.
            File.SetUnixFileMode(temporary, mode);
            if (options?.UrlFileGroup is { Length: > 0 } group)
            {
                UnixGroup.Change(temporary, group);
            }

            File.Move(temporary, file, overwrite: true);
        }
        catch
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }

            throw;
        }
    }

    public (ChannelReader<PrimaryAddress> Reader, IDisposable Subscription) Watch(string resource)
    {
        var channel = Channel.CreateBounded<PrimaryAddress>(new BoundedChannelOptions(16) { FullMode = BoundedChannelFullMode.DropOldest });
        _watchers[channel] = resource;
        if (_current.TryGetValue(resource, out var now))
        {
            channel.Writer.TryWrite(now);
        }

        return (channel.Reader, new Unsubscribe(() => _watchers.TryRemove(channel, out _)));
    }

    /// <summary>The URL applications use for <paramref name="address"/>; without the password (said) when its file cannot be read now.</summary>
    private string UrlFor(string resource, ResourceOptions? options, string address, bool? tls)
    {
        if (options is null)
        {
            return "redis://" + address;
        }

        try
        {
            return options.UrlFor(address, tls);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The password file went missing since the start: the address is still published, without it.
            Log.PasswordUnreadable(logger, resource, options.PasswordFile!, ex.Message);
            return new ResourceOptions { User = options.User, Tls = options.Tls, Database = options.Database }.UrlFor(address, tls);
        }
    }

    private async Task RunHookAsync(string resource, string command, string url, string? tlsUrl)
    {
        try
        {
            var start = new ProcessStartInfo("/bin/sh", ["-c", command]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            start.Environment["REDIS_URL"] = url;
            if (tlsUrl is not null)
            {
                start.Environment["REDIS_TLS_URL"] = tlsUrl;
            }

            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            try
            {
                await process.WaitForExitAsync().WaitAsync(HookTimeout).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // A hook that hangs must not outlive its welcome (nor the coordinator).
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"still running after {HookTimeout.TotalSeconds:0} s: killed");
            }

            if (process.ExitCode != 0)
            {
                Log.HookFailed(logger, resource, process.ExitCode, (await error.ConfigureAwait(false)).Trim());
            }

            _ = await output.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or System.ComponentModel.Win32Exception or IOException)
        {
            Log.HookFailed(logger, resource, -1, ex.Message);
        }
    }

    private sealed class Unsubscribe(Action action) : IDisposable
    {
        public void Dispose() => action();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2020, Level = LogLevel.Warning, Message = "{Resource}: primary is {Node} at {Address} (term {Term})")]
        public static partial void Published(ILogger logger, string resource, string node, string address, long term);

        [LoggerMessage(EventId = 2022, Level = LogLevel.Error, Message = "{Resource}: the URL file {File} cannot be written: {Error}. Applications reading it still see the old primary; retrying every tick")]
        public static partial void UrlFileFailed(ILogger logger, string resource, string file, string error);

        [LoggerMessage(EventId = 2077, Level = LogLevel.Error, Message = "{Resource}: the password file {File} cannot be read ({Error}): the primary is published without the password")]
        public static partial void PasswordUnreadable(ILogger logger, string resource, string file, string error);

        [LoggerMessage(EventId = 2023, Level = LogLevel.Warning, Message = "{Resource}: the URL file {File} is written again")]
        public static partial void UrlFileRecovered(ILogger logger, string resource, string file);

        [LoggerMessage(EventId = 2021, Level = LogLevel.Error, Message = "{Resource}: the publish command failed (exit {Code}): {Error}")]
        public static partial void HookFailed(ILogger logger, string resource, int code, string error);
    }
}
