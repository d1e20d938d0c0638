using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace RedisAgent.Connection;

/// <summary>
/// Masks every secret the agent knows in any text that leaves it (logs, errors, Redis's own lines
/// forwarded to drains and tails): the node's password, the peers' passwords, the coordinator token,
/// and the passwords of a configured redis.conf (<c>requirepass</c>, <c>masterauth</c>, ACL
/// <c>&gt;password</c>s) or of <c>Exec:Arguments</c>. The agent never formats a secret itself; this
/// catches text it does not control, such as Redis's complaint about a bad <c>masterauth</c>, a
/// failing command's output or a client library's exception.
/// </summary>
internal sealed partial class SecretRedactor
{
    /// <summary>Shorter strings are too common to mask without garbling every line (a 2-character password is no secret anyway).</summary>
    internal const int MinimumLength = 3;

    /// <summary>Every secret any redactor of this process has learnt: a fatal error at start is masked with them too.</summary>
    private static readonly ConcurrentDictionary<string, byte> Known = new(StringComparer.Ordinal);

    private string[] _secrets = [];

    public SecretRedactor(RedisEndpoint endpoint, params IEnumerable<string?> others)
    {
        Add(endpoint.Password);
        foreach (var secret in others)
        {
            Add(secret);
        }
    }

    public void Add(string? secret)
    {
        if (secret is not { Length: >= MinimumLength } || Array.IndexOf(_secrets, secret) >= 0)
        {
            return;
        }

        Known.TryAdd(secret, 0);
        // Longest first: a secret that contains another is masked whole.
        _secrets = [.. _secrets.Append(secret).OrderByDescending(s => s.Length)];
    }

    public string Redact(string text) => Mask(text, _secrets);

    /// <summary>Masks with every secret this process has learnt so far.</summary>
    public static string RedactAll(string text) => Mask(text, [.. Known.Keys.OrderByDescending(s => s.Length)]);

    private static string Mask(string text, string[] secrets)
    {
        foreach (var secret in secrets)
        {
            text = text.Replace(secret, "***", StringComparison.Ordinal);
        }

        return text;
    }

    /// <summary>The passwords a redis.conf (or <c>--name value</c> arguments) sets: requirepass, masterauth, ACL <c>&gt;password</c>s.</summary>
    public static IEnumerable<string> SecretsInRedisConfig(IEnumerable<string> lines)
    {
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            var match = PasswordDirective().Match(line);
            if (match.Success)
            {
                // Every word: a malformed line ("masterauth pass extra") is echoed by Redis word by word.
                foreach (var word in match.Groups[2].Value.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                {
                    yield return Unquote(word);
                }

                continue;
            }

            if (line.StartsWith("user ", StringComparison.OrdinalIgnoreCase))
            {
                foreach (Match rule in AclPassword().Matches(line))
                {
                    yield return Unquote(rule.Groups[1].Value).TrimStart('>');
                }
            }
        }
    }

    private static string Unquote(string value) =>
        value.Length >= 2 && (value[0] == '"' && value[^1] == '"' || value[0] == '\'' && value[^1] == '\'') ? value[1..^1] : value;

    [GeneratedRegex(@"^(?:--)?(requirepass|masterauth|tls-key-file-pass|tls-client-key-file-pass)\s+(.+)$", RegexOptions.IgnoreCase)]
    private static partial Regex PasswordDirective();

    [GeneratedRegex(@"(?:^|\s)(""?>[^\s""]+""?)")]
    private static partial Regex AclPassword();
}
