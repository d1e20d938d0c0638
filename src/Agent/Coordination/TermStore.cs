using System.Globalization;

namespace RedisAgent.Coordination;

/// <summary>
/// The highest coordinator term this agent has seen, kept on disk so that a restarted agent still
/// refuses older ones. A term more than <c>maxJump</c> above it is refused too (a coordinator's
/// term grows by one per failover or leader change: a leap is a poisoned or forged term, which,
/// once accepted, would lock the real coordinator out for good), unless an operator confirmed that
/// very term (<c>redis-agent accept-term N</c>, which writes <see cref="AcceptFileName"/>).
/// </summary>
internal sealed class TermStore(string directory, long maxJump = long.MaxValue)
{
    /// <summary>The file an operator's confirmation of one term is written to, in the state directory.</summary>
    public const string AcceptFileName = "coordinator-term-accept";

    private readonly Lock _lock = new();
    private long? _highest;

    private string FilePath => Path.Combine(directory, "coordinator-term");

    public long MaxJump => maxJump;

    public long Highest
    {
        get
        {
            lock (_lock)
            {
                return _highest ??= Read(FilePath) ?? 0;
            }
        }
    }

    /// <summary>Accepts <paramref name="term"/> when it is not older than the highest seen, nor too far above it (and records it); false when it is.</summary>
    public bool TryAccept(long term) => TryAccept(term, out _);

    /// <summary>As <see cref="TryAccept(long)"/>, with why a term is refused.</summary>
    public bool TryAccept(long term, out string? refusal)
    {
        lock (_lock)
        {
            var highest = Highest;
            if (term < highest)
            {
                refusal = string.Create(CultureInfo.InvariantCulture, $"stale term {term}: this agent has seen term {highest}");
                return false;
            }

            if (term - highest > maxJump)
            {
                var accept = Path.Combine(directory, AcceptFileName);
                if (Read(accept) != term)
                {
                    refusal = string.Create(CultureInfo.InvariantCulture,
                        $"term {term} is {term - highest} above the highest this agent has seen ({highest}), more than Coordinator:MaxTermJump ({maxJump}): refused as a possibly forged term. If this coordinator is genuine, confirm with 'redis-agent accept-term {term}'");
                    return false;
                }

                File.Delete(accept);
            }

            if (term > highest)
            {
                Directory.CreateDirectory(directory);
                var temporary = FilePath + ".tmp";
                using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write))
                {
                    stream.Write(System.Text.Encoding.ASCII.GetBytes(term.ToString(CultureInfo.InvariantCulture)));
                    stream.Flush(flushToDisk: true);
                }

                File.Move(temporary, FilePath, overwrite: true);
                _highest = term;
            }

            refusal = null;
            return true;
        }
    }

    /// <summary>Records an operator's confirmation of <paramref name="term"/> for the agent whose state is in <paramref name="stateDirectory"/>.</summary>
    public static void Confirm(string stateDirectory, long term)
    {
        Directory.CreateDirectory(stateDirectory);
        File.WriteAllText(Path.Combine(stateDirectory, AcceptFileName), term.ToString(CultureInfo.InvariantCulture));
    }

    private static long? Read(string path) =>
        File.Exists(path) && long.TryParse(File.ReadAllText(path).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var term) ? term : null;
}
