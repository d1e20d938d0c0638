namespace RedisAgent.Tests.Trust;

/// <summary>
/// docs/security.md's table of parties says which Admin methods a `read` operator may call and which
/// only an `admin` may: it must name every method of the Admin service, each in the row the
/// coordinator's interceptor actually enforces, so that a new method cannot go undocumented or be
/// documented as readable while it needs admin.
/// </summary>
public sealed class RoleDocumentationTests
{
    [Fact]
    public void The_roles_table_names_every_admin_method_in_the_row_that_is_enforced()
    {
        var lines = File.ReadAllLines(RepositoryFiles.Path("docs/security.md"));
        var read = lines.Single(l => l.StartsWith("| a `read` operator |", StringComparison.Ordinal));
        var admin = lines.Single(l => l.StartsWith("| an `admin` operator |", StringComparison.Ordinal));
        var methods = RedisFailover.Protos.Admin.Descriptor.Methods.Select(m => m.Name).ToList();
        Assert.NotEmpty(methods);
        foreach (var method in methods)
        {
            var needsAdmin = RedisFailover.Services.AuthInterceptor.AdminMethods.Contains($"/redisfailover.v1.Admin/{method}");
            var row = needsAdmin ? admin : read;
            var other = needsAdmin ? read : admin;
            Assert.True(row.Contains($"`{method}`", StringComparison.Ordinal), $"docs/security.md: `{method}` belongs in the {(needsAdmin ? "admin" : "read")} row");
            Assert.False(other.Contains($"`{method}`", StringComparison.Ordinal), $"docs/security.md: `{method}` is in the {(needsAdmin ? "read" : "admin")} row");
        }
    }
}
