using System.Diagnostics;
using System.Security.Cryptography;

namespace RedisAgent.Testing.Hosts;

/// <summary>Key pairs made with ssh-keygen for one test run: the agent's key, and one no host accepts.</summary>
public sealed class SshKeys : IDisposable
{
    private readonly TempDirectory _directory = new("keys");

    public SshKeys()
    {
        Generate(ClientKey);
        Generate(StrangerKey);
    }

    /// <summary>The key the test hosts authorize.</summary>
    public string ClientKey => _directory.File("agent_ed25519");

    /// <summary>A key no test host authorizes.</summary>
    public string StrangerKey => _directory.File("stranger_ed25519");

    public static void Generate(string path)
    {
        using var process = Process.Start(new ProcessStartInfo("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "redis-agent-test", "-f", path])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ssh-keygen failed: {process.StandardError.ReadToEnd()}");
        }
    }

    /// <summary>The SHA-256 fingerprint of a public key file, as <c>ssh-keygen -lf</c> prints it.</summary>
    public static string Fingerprint(string publicKeyFile)
    {
        var blob = Convert.FromBase64String(File.ReadAllText(publicKeyFile).Split(' ')[1]);
        return "SHA256:" + Convert.ToBase64String(SHA256.HashData(blob)).TrimEnd('=');
    }

    public void Dispose() => _directory.Dispose();
}
