namespace RedisAgent.Testing;

/// <summary>A directory under /tmp that is removed on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix)
    {
        Path = Directory.CreateTempSubdirectory("redis-agent-" + prefix + "-").FullName;
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A server we killed may still be closing a file; /tmp is cleaned by the OS anyway.
        }
    }
}
