using System.Security.Cryptography;
using System.Text;
using RedisAgent.HostProbing;
using RedisAgent.Testing;

namespace RedisAgent.Tests.HostProbing;

public sealed class HostKeyTrustTests : IDisposable
{
    private static readonly byte[] Key = RandomNumberGenerator.GetBytes(51);
    private static readonly byte[] OtherKey = RandomNumberGenerator.GetBytes(51);
    private readonly TempDirectory _directory = new("known-hosts-unit");

    private static string Fingerprint(byte[] blob) => "SHA256:" + Convert.ToBase64String(SHA256.HashData(blob)).TrimEnd('=');

    [Fact]
    public void Pinned_matching_key_is_trusted()
    {
        var trust = HostKeyTrust.Pinned(Fingerprint(Key));

        Assert.True(trust.Verify("127.0.0.12", 22, "ssh-ed25519", Key, out var why), why);
    }

    [Fact]
    public void Pinned_other_key_is_refused_naming_both_fingerprints()
    {
        var trust = HostKeyTrust.Pinned(Fingerprint(Key));

        Assert.False(trust.Verify("127.0.0.12", 22, "ssh-ed25519", OtherKey, out var why));
        Assert.Contains(Fingerprint(OtherKey), why, StringComparison.Ordinal);
        Assert.Contains(Fingerprint(Key), why, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("SHA256:tooshort")]
    [InlineData("MD5:aa:bb")]
    [InlineData("")]
    public void Pinned_not_a_fingerprint_is_a_format_error(string pin) =>
        Assert.Throws<FormatException>(() => HostKeyTrust.Pinned(pin));

    [Fact]
    public void Known_hosts_plain_port_and_hashed_entries_are_found()
    {
        var salt = RandomNumberGenerator.GetBytes(20);
        using var hmac = new HMACSHA1(salt);
        var hashed = $"|1|{Convert.ToBase64String(salt)}|{Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes("[127.0.0.13]:2222")))}";
        var trust = KnownHosts(
            "# comment",
            $"127.0.0.11,db-1 ssh-ed25519 {Convert.ToBase64String(Key)} root@db-1",
            $"[127.0.0.12]:2222 ssh-ed25519 {Convert.ToBase64String(Key)}",
            $"{hashed} ssh-ed25519 {Convert.ToBase64String(Key)}");

        Assert.True(trust.Verify("127.0.0.11", 22, "ssh-ed25519", Key, out _));
        Assert.True(trust.Verify("db-1", 22, "ssh-ed25519", Key, out _));
        Assert.True(trust.Verify("127.0.0.12", 2222, "ssh-ed25519", Key, out _));
        Assert.True(trust.Verify("127.0.0.13", 2222, "ssh-ed25519", Key, out _));
        Assert.False(trust.Verify("127.0.0.12", 22, "ssh-ed25519", Key, out _));
    }

    [Fact]
    public void Known_hosts_changed_key_is_refused_as_changed()
    {
        var trust = KnownHosts($"127.0.0.11 ssh-ed25519 {Convert.ToBase64String(Key)}");

        Assert.False(trust.Verify("127.0.0.11", 22, "ssh-ed25519", OtherKey, out var why));
        Assert.Contains("CHANGED", why, StringComparison.Ordinal);
    }

    [Fact]
    public void Known_hosts_unknown_host_is_refused_not_learnt()
    {
        var trust = KnownHosts($"127.0.0.11 ssh-ed25519 {Convert.ToBase64String(Key)}");

        Assert.False(trust.Verify("127.0.0.99", 22, "ssh-ed25519", Key, out var why));
        Assert.Contains("not in", why, StringComparison.Ordinal);
        Assert.False(trust.Verify("127.0.0.99", 22, "ssh-ed25519", Key, out _));
    }

    [Fact]
    public void Known_hosts_revoked_key_is_refused_even_if_also_listed()
    {
        var trust = KnownHosts(
            $"127.0.0.11 ssh-ed25519 {Convert.ToBase64String(Key)}",
            $"@revoked 127.0.0.11 ssh-ed25519 {Convert.ToBase64String(Key)}");

        Assert.False(trust.Verify("127.0.0.11", 22, "ssh-ed25519", Key, out var why));
        Assert.Contains("@revoked", why, StringComparison.Ordinal);
    }

    public void Dispose() => _directory.Dispose();

    private HostKeyTrust KnownHosts(params string[] lines)
    {
        var path = _directory.File("known_hosts");
        File.WriteAllLines(path, lines);
        return HostKeyTrust.FromKnownHosts(path);
    }
}
