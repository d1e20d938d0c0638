using System.Globalization;

namespace RedisAgent.Metrics;

/// <summary>The host's memory as <c>/proc/meminfo</c> has it, in kB (Heroku's <c>memory-total</c>, <c>memory-free</c>, <c>memory-cached</c>).</summary>
internal readonly record struct HostMemory(long TotalKb, long FreeKb, long CachedKb);

/// <summary>Reads and writes completed on one block device since boot, from <c>/proc/diskstats</c>.</summary>
internal readonly record struct DiskCounters(long Reads, long Writes);

/// <summary>
/// What the metrics line reports of the host Redis runs on (the agent runs beside it): its memory,
/// and the operations per second of the block device under Redis's <c>dir</c> (Heroku's
/// <c>read-iops</c>, <c>write-iops</c>). Each read gives null when the file or the device is not
/// there (another kernel, a container without /proc, a directory on overlay or tmpfs): the line
/// then leaves the field out rather than writing a made-up 0.
/// </summary>
internal static class HostStats
{
    public static HostMemory? ReadMemory(string path = "/proc/meminfo")
    {
        var text = ReadAll(path);
        return text is null ? null : ParseMemory(text);
    }

    internal static HostMemory? ParseMemory(string text)
    {
        long? total = null, free = null, cached = null;
        foreach (var line in text.Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var value = line[(colon + 1)..].Trim();
            if (value.EndsWith(" kB", StringComparison.Ordinal))
            {
                value = value[..^3];
            }

            if (!long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var kb))
            {
                continue;
            }

            switch (line[..colon])
            {
                case "MemTotal": total = kb; break;
                case "MemFree": free = kb; break;
                case "Cached": cached = kb; break;
            }
        }

        return total is { } t && free is { } f && cached is { } c ? new HostMemory(t, f, c) : null;
    }

    /// <summary>The counters of the device that holds <paramref name="directory"/>; null when it has none (see the class).</summary>
    public static DiskCounters? ReadDisk(string directory, string mountInfo = "/proc/self/mountinfo", string diskStats = "/proc/diskstats")
    {
        var mounts = ReadAll(mountInfo);
        var stats = ReadAll(diskStats);
        return mounts is null || stats is null || DeviceOf(directory, mounts) is not { } device ? null : ParseDisk(stats, device);
    }

    /// <summary>The <c>major:minor</c> of the mount with the longest mount point that contains <paramref name="directory"/>.</summary>
    internal static string? DeviceOf(string directory, string mountInfo)
    {
        if (!directory.StartsWith('/'))
        {
            return null;
        }

        var path = directory.TrimEnd('/') + "/";
        string? device = null;
        var longest = -1;
        foreach (var line in mountInfo.Split('\n'))
        {
            // id parent major:minor root mount-point options ... - type source super-options
            var fields = line.Split(' ');
            if (fields.Length < 5)
            {
                continue;
            }

            var mountPoint = Unescape(fields[4]);
            var prefix = mountPoint.TrimEnd('/') + "/";
            if (path.StartsWith(prefix, StringComparison.Ordinal) && prefix.Length > longest)
            {
                longest = prefix.Length;
                device = fields[2];
            }
        }

        return device;
    }

    internal static DiskCounters? ParseDisk(string diskStats, string device)
    {
        foreach (var line in diskStats.Split('\n'))
        {
            // major minor name reads-completed reads-merged sectors-read ms-reading writes-completed ...
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 8 && $"{fields[0]}:{fields[1]}" == device
                && long.TryParse(fields[3], NumberStyles.Integer, CultureInfo.InvariantCulture, out var reads)
                && long.TryParse(fields[7], NumberStyles.Integer, CultureInfo.InvariantCulture, out var writes))
            {
                return new DiskCounters(reads, writes);
            }
        }

        return null;
    }

    /// <summary>mountinfo writes a space, tab, newline and backslash in a path as octal escapes (<c>\040</c>).</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var result = new System.Text.StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && field.AsSpan(i + 1, 3).IndexOfAnyExceptInRange('0', '7') < 0)
            {
                result.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                result.Append(field[i]);
            }
        }

        return result.ToString();
    }

    private static string? ReadAll(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
