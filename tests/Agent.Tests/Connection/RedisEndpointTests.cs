using RedisAgent.Connection;

namespace RedisAgent.Tests.Connection;

public sealed class RedisEndpointTests
{
    [Theory]
    [InlineData("redis://127.0.0.1:6380", "127.0.0.1", 6380, null, null, false)]
    [InlineData("redis://localhost", "localhost", 6379, null, null, false)]
    [InlineData("rediss://cache.example:7000", "cache.example", 7000, null, null, true)]
    [InlineData("redis://:s3cret@127.0.0.1:6379", "127.0.0.1", 6379, null, "s3cret", false)]
    [InlineData("redis://s3cret@127.0.0.1:6379", "127.0.0.1", 6379, null, "s3cret", false)]
    [InlineData("redis://alice:p%40ss%3Aword@127.0.0.1:6379/0", "127.0.0.1", 6379, "alice", "p@ss:word", false)]
    [InlineData("redis://[::1]:6379", "::1", 6379, null, null, false)]
    public void TryParse_ValidUrl_YieldsItsParts(string url, string host, int port, string? user, string? password, bool tls)
    {
        Assert.True(RedisEndpoint.TryParse(url, out var endpoint, out var error), error);
        Assert.Equal(new RedisEndpoint(host, port, user, password, tls), endpoint);
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("not a url with hunter2", "is not a URL")]
    [InlineData("http://:hunter2@127.0.0.1:6379", "scheme 'http'")]
    [InlineData("redis://:hunter2@127.0.0.1:6379/cache", "not a database number")]
    public void TryParse_InvalidUrl_SaysWhyWithoutEchoingIt(string url, string expected)
    {
        Assert.False(RedisEndpoint.TryParse(url, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error, StringComparison.Ordinal);
    }

    [Fact]
    public void To_string_with_password_masks_it()
    {
        var endpoint = RedisEndpoint.Parse("redis://alice:hunter2@127.0.0.1:6390");

        Assert.Equal("redis://alice:***@127.0.0.1:6390", endpoint.ToString());
        Assert.Equal("redis://***@127.0.0.1:6390", (endpoint with { User = null }).ToString());
    }

    [Fact]
    public void Redact_text_holding_the_password_masks_every_occurrence()
    {
        var redactor = new SecretRedactor(RedisEndpoint.Parse("redis://:hunter2@127.0.0.1:6390"));

        Assert.Equal("auth *** failed, *** again", redactor.Redact("auth hunter2 failed, hunter2 again"));
    }
}
