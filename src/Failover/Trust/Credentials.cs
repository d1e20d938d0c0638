using System.Security.Cryptography;
using System.Text;

namespace RedisFailover.Trust;

/// <summary>What a caller may do. An agent reports about one node; read sees; admin changes.</summary>
internal enum CallerRole
{
    /// <summary>One node's agent: the agents' stream, registered as that node only.</summary>
    Agent,

    /// <summary>Status, history, the primary's address as a stream.</summary>
    Read,

    /// <summary>Read, and promote, settings, pause and resume.</summary>
    Admin,

    /// <summary>The legacy shared <c>Failover:Token</c>: any node's agent and admin at once.</summary>
    Fleet,
}

/// <summary>Who called: a name from the credentials file (an agent's is <c>resource/node</c>), its role, and how it proved it.</summary>
internal sealed record Caller(string Name, CallerRole Role, string Proof)
{
    /// <summary>For an agent: the resource and node its credential is bound to.</summary>
    public (string Resource, string Node)? Binding =>
        Role == CallerRole.Agent && Name.IndexOf('/', StringComparison.Ordinal) is > 0 and var slash && slash < Name.Length - 1
            ? (Name[..slash], Name[(slash + 1)..])
            : null;

    public bool MayRead => Role is CallerRole.Read or CallerRole.Admin or CallerRole.Fleet;

    public bool MayAdminister => Role is CallerRole.Admin or CallerRole.Fleet;

    /// <summary>May this caller speak for <paramref name="node"/> of <paramref name="resource"/>?</summary>
    public bool MaySpeakFor(string resource, string node) =>
        Role == CallerRole.Fleet || (Binding is { } bound && bound.Resource == resource && bound.Node == node);

    public override string ToString() => $"{Role.ToString().ToLowerInvariant()} {Name} ({Proof})";
}

/// <summary>
/// The credentials file (<c>Failover:CredentialsFile</c>): one caller per line,
/// <c>ROLE NAME PROOF</c>, where ROLE is <c>agent</c>, <c>read</c> or <c>admin</c>; an agent's
/// NAME is <c>resource/node</c>; PROOF is <c>sha256:HEX</c> (the SHA-256 of the caller's bearer
/// token: the file holds no secret) or <c>certificate</c> (a client certificate whose subject CN is
/// NAME, signed by <c>Failover:Tls:ClientCaFile</c>). <c>revoked sha256:HEX</c> refuses a
/// client certificate by its fingerprint, whoever signed it. <c>#</c> starts a comment.
/// </summary>
internal sealed class Credentials
{
    private readonly Dictionary<string, Caller> _byTokenHash;
    private readonly Dictionary<string, Caller> _byCertificateName;
    private readonly HashSet<string> _revoked;

    private Credentials(Dictionary<string, Caller> byTokenHash, Dictionary<string, Caller> byCertificateName, HashSet<string> revoked)
    {
        _byTokenHash = byTokenHash;
        _byCertificateName = byCertificateName;
        _revoked = revoked;
    }

    public static Credentials None { get; } = new([], [], []);

    public int Count => _byTokenHash.Count + _byCertificateName.Count;

    /// <summary>Parses a credentials file's text; throws <see cref="FormatException"/> naming the line at fault.</summary>
    public static Credentials Parse(string text, string file)
    {
        var byToken = new Dictionary<string, Caller>(StringComparer.Ordinal);
        var byCertificate = new Dictionary<string, Caller>(StringComparer.Ordinal);
        var revoked = new HashSet<string>(StringComparer.Ordinal);
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = (raw.IndexOf('#', StringComparison.Ordinal) is >= 0 and var hash ? raw[..hash] : raw).Trim();
            if (line.Length == 0)
            {
                continue;
            }

            var words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            string Where() => $"'{file}' line {number}";
            if (words[0] == "revoked")
            {
                if (words.Length != 2 || Hash(words[1]) is not { } fingerprint)
                {
                    throw new FormatException($"{Where()}: 'revoked' takes one certificate fingerprint, sha256:<64 hex digits>");
                }

                revoked.Add(fingerprint);
                continue;
            }

            if (words.Length != 3)
            {
                throw new FormatException($"{Where()}: expected ROLE NAME PROOF (e.g. 'agent cache/host-1 sha256:<64 hex digits>'), got {words.Length} words");
            }

            var role = words[0] switch
            {
                "agent" => CallerRole.Agent,
                "read" => CallerRole.Read,
                "admin" => CallerRole.Admin,
                _ => throw new FormatException($"{Where()}: the role must be agent, read or admin (got '{Printable(words[0])}')"),
            };
            var name = words[1];
            if (name.Length > 200 || name.Any(char.IsControl))
            {
                throw new FormatException($"{Where()}: the name is not printable or longer than 200 characters");
            }

            var caller = new Caller(name, role, words[2] == "certificate" ? "client certificate" : "token");
            if (role == CallerRole.Agent && caller.Binding is null)
            {
                throw new FormatException($"{Where()}: an agent's name is resource/node (got '{Printable(name)}')");
            }

            if (words[2] == "certificate")
            {
                if (!byCertificate.TryAdd(name, caller))
                {
                    throw new FormatException($"{Where()}: '{Printable(name)}' has a certificate line already");
                }
            }
            else if (Hash(words[2]) is { } tokenHash)
            {
                if (!byToken.TryAdd(tokenHash, caller))
                {
                    throw new FormatException($"{Where()}: the same token hash is given twice (every caller needs its own token)");
                }
            }
            else
            {
                throw new FormatException($"{Where()}: the proof must be sha256:<64 hex digits> (the token's SHA-256, as 'printf %s \"$TOKEN\" | sha256sum' prints it) or 'certificate'");
            }
        }

        return new Credentials(byToken, byCertificate, revoked);
    }

    /// <summary>The caller whose token this is; null when no line names it.</summary>
    public Caller? ByToken(string token) =>
        _byTokenHash.GetValueOrDefault(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token))));

    /// <summary>The caller a verified client certificate names by its CN; null when none is listed for it.</summary>
    public Caller? ByCertificate(string commonName) => _byCertificateName.GetValueOrDefault(commonName);

    public bool IsRevoked(byte[] certificateSha256) => _revoked.Contains(Convert.ToHexStringLower(certificateSha256));

    /// <summary>sha256:HEX (colons allowed) as lower-case hex; null when it is not one.</summary>
    private static string? Hash(string proof) =>
        proof.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase)
        && proof[7..].Replace(":", "", StringComparison.Ordinal) is { Length: 64 } hex
        && hex.All(char.IsAsciiHexDigit)
            ? hex.ToLowerInvariant()
            : null;

    private static string Printable(string text) => RedisFailover.Hosting.ResourcesOptionsValidator.Printable(text);
}
