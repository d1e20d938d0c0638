namespace RedisAgent.Tests;

/// <summary>Files of the repository the tests check (README, deploy files, the Dockerfile), read as their readers read them.</summary>
internal static class RepositoryFiles
{
    public static string Root { get; } = FindRoot();

    public static string Path(string relative) => System.IO.Path.Combine(Root, relative);

    /// <summary>A unit file's [Section] Key=Value pairs (a key may repeat); comments and blank lines skipped.</summary>
    public static List<(string Section, string Key, string Value)> Unit(string relative)
    {
        var entries = new List<(string, string, string)>();
        var section = "";
        foreach (var raw in File.ReadAllLines(Path(relative)))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
            {
                continue;
            }

            if (line[0] == '[')
            {
                section = line.Trim('[', ']');
                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            entries.Add((section, line[..equals], line[(equals + 1)..]));
        }

        return entries;
    }

    /// <summary>An EnvironmentFile's KEY=VALUE lines, as systemd reads them (no quotes used here).</summary>
    public static Dictionary<string, string> Environment(string relative) =>
        File.ReadAllLines(Path(relative))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => l.Split('=', 2))
            .ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);

    /// <summary>The Dockerfile's instructions, continuation lines joined.</summary>
    public static List<(string Instruction, string Arguments)> Dockerfile()
    {
        var instructions = new List<(string, string)>();
        var pending = "";
        foreach (var raw in File.ReadAllLines(Path("Dockerfile")))
        {
            var line = raw.Trim();
            if (pending.Length == 0 && (line.Length == 0 || line[0] == '#'))
            {
                continue;
            }

            pending += (pending.Length > 0 ? " " : "") + line.TrimEnd('\\').Trim();
            if (line.EndsWith('\\'))
            {
                continue;
            }

            var space = pending.IndexOf(' ', StringComparison.Ordinal);
            instructions.Add((pending[..space].ToUpperInvariant(), pending[(space + 1)..]));
            pending = "";
        }

        return instructions;
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "Agent.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Agent.sln above {AppContext.BaseDirectory}.");
    }
}
