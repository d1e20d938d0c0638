using System.Globalization;

namespace RedisAgent.Load;

/// <summary>What every load scenario reads from its command line, and where it writes results.</summary>
internal sealed class LoadArguments(string[] args)
{
    /// <summary>A whole number of at least 0, or a <see cref="LoadUsageException"/> naming the option and what it was given.</summary>
    public int Int(string name, int fallback)
    {
        var text = Text(name, fallback.ToString(CultureInfo.InvariantCulture));
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new LoadUsageException($"{name} needs a whole number, not '{text}'");
    }

    public string Text(string name, string fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : fallback;
    }

    /// <summary><c>--out</c>, or load/results under the repository.</summary>
    public string OutDirectory => Text("--out", Path.Combine(RepoRoot(), "load", "results"));

    /// <summary>The repository (the directory holding Agent.sln above the program), or the current directory.</summary>
    public static string RepoRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Agent.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? Directory.GetCurrentDirectory();
    }
}

/// <summary>A benchmark's command line was wrong: the message names the option; redis-load exits 64.</summary>
internal sealed class LoadUsageException(string message) : Exception(message);
