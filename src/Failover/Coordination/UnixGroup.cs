using System.Globalization;
using System.Runtime.InteropServices;

namespace RedisFailover.Coordination;

/// <summary>Changes a file's group by name or number (.NET has no chown).</summary>
internal static partial class UnixGroup
{
    /// <summary>The group's id, or null when no such group exists.</summary>
    public static uint? Resolve(string group)
    {
        if (uint.TryParse(group, NumberStyles.None, CultureInfo.InvariantCulture, out var gid))
        {
            return gid;
        }

        try
        {
            foreach (var line in File.ReadLines("/etc/group"))
            {
                var fields = line.Split(':');
                if (fields.Length >= 3 && fields[0] == group && uint.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out gid))
                {
                    return gid;
                }
            }
        }
        catch (IOException)
        {
        }

        return null;
    }

    public static void Change(string path, string group)
    {
        var gid = Resolve(group) ?? throw new IOException($"no group '{group}'");
        if (Chown(path, uint.MaxValue, gid) != 0)
        {
            throw new IOException($"cannot give {path} to group '{group}': errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "chown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Chown(string path, uint owner, uint group);
}
