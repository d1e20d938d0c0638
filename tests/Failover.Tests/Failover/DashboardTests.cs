using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;
using RedisAgent.Tests.HostProbing;
using RedisFailover.Protos;

namespace RedisAgent.Tests.Failover;

/// <summary>
/// Issue 17, the dashboard: the coordinator's own read-only page, loaded in Debian's headless
/// Chromium against a resource of three real hosts whose agents sample a plan. The test reads the
/// DOM the page's script built (not its HTML source) before and after a host-loss failover, and
/// saves a screenshot of each (artifacts/screenshots; the README shows copies).
/// </summary>
[Collection(LoopbackHostsCollection.Name)]
public sealed class DashboardTests(LoopbackHosts hosts, Xunit.Abstractions.ITestOutputHelper output) : ThreeHostResource(hosts)
{
    private readonly string _dashboardUrl = $"http://127.0.0.1:{LoopbackPorts.Free()}";

    private protected override Dictionary<string, string?> CoordinatorSettings() => new()
    {
        ["Failover:DashboardUrl"] = _dashboardUrl,
        ["Failover:DashboardResolution"] = "00:00:01",
    };

    private protected override void ConfigureAgent(TestHost host, Dictionary<string, string?> settings) => settings["Plan:Name"] = "premium-0";

    [Fact]
    public async Task The_page_shows_the_resource_its_plan_limits_and_its_incidents_before_and_after_a_failover()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        await Poll.UntilAsync(async () => (await PlanPointsAsync(http)) >= 3, TimeSpan.FromSeconds(30), () => "the primary's samples are kept\n" + Coordinator.Describe());

        var screenshots = Directory.CreateDirectory(RepositoryFiles.Path("artifacts/screenshots")).FullName;
        var page = $"{_dashboardUrl}/#token={FailoverUnderTest.Token}";
        var dom = await Chromium.DumpDomAsync(page, TimeSpan.FromSeconds(8));
        Assert.Contains("data-loaded=", dom, StringComparison.Ordinal);
        Assert.Contains("data-resource=\"cache\" data-state=\"Healthy\" data-primary=\"host-1\"", dom, StringComparison.Ordinal);
        Assert.Contains("<td class=\"role-primary\">primary</td>", dom, StringComparison.Ordinal);
        Assert.Contains("primary host-1 (" + Hosts[0].Address, dom, StringComparison.Ordinal);
        Assert.Matches("Memory: [0-9.]+ (MB|KB) of 50.0 MB \\(premium-0\\) on host-1", dom);
        Assert.Matches("Connections: [0-9]+ of 40 \\(premium-0\\) on host-1", dom);
        Assert.Matches("<polyline class=\"used\" points=\"[0-9., ]+\"", dom);
        Assert.Matches("<polyline class=\"limit\" points=\"[0-9., ]+\"", dom);
        Assert.DoesNotContain("not updated", dom, StringComparison.Ordinal);
        await Chromium.ScreenshotAsync(page, Path.Combine(screenshots, "dashboard-before-failover.png"), TimeSpan.FromSeconds(8));

        // host-1 is lost: its address DROPped both ways, its agent stopped; the page follows.
        using (Partition.Isolate(Hosts[0].Address))
        {
            await StopAgentAsync("host-1");
            await Poll.UntilAsync(() => Status() is { Primary: not "host-1", Term: 2 }, TimeSpan.FromSeconds(40), () => Coordinator.Describe());
            var promoted = Status().Primary;
            await Poll.UntilAsync(async () => await PlanPointsAsync(http, promoted) >= 2, TimeSpan.FromSeconds(30), () => "the new primary's samples are kept");

            dom = await Chromium.DumpDomAsync(page, TimeSpan.FromSeconds(8));
            Assert.Contains($"data-primary=\"{promoted}\"", dom, StringComparison.Ordinal);
            Assert.Contains("term 2", dom, StringComparison.Ordinal);
            Assert.Contains("failed over", dom, StringComparison.Ordinal);
            Assert.Contains("confirmed", dom, StringComparison.Ordinal);
            Assert.Contains("<line class=\"switch\"", dom, StringComparison.Ordinal);
            Assert.Contains($"on {promoted}", dom, StringComparison.Ordinal);
            await Chromium.ScreenshotAsync(page, Path.Combine(screenshots, "dashboard-after-failover.png"), TimeSpan.FromSeconds(8));
            output.WriteLine($"screenshots in {screenshots}");
        }

        // Without a read credential the data is refused, named, and the page asks for one.
        var refused = await http.GetAsync(_dashboardUrl + "/api/status");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("not authenticated", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var login = await Chromium.DumpDomAsync(_dashboardUrl + "/", TimeSpan.FromSeconds(5));
        Assert.Matches("<form id=\"login\"(?! hidden)", login);
        Assert.DoesNotContain("data-resource=", login, StringComparison.Ordinal);
        var wrong = await Chromium.DumpDomAsync(_dashboardUrl + "/#token=not-a-token", TimeSpan.FromSeconds(5));
        Assert.Contains("not authenticated", wrong, StringComparison.Ordinal);

        // The page itself carries no data and a policy that lets nothing but its own script run.
        var html = await http.GetAsync(_dashboardUrl + "/");
        Assert.Equal(HttpStatusCode.OK, html.StatusCode);
        Assert.Contains("script-src 'self'", html.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.DoesNotContain("host-1", await html.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_journal_line_with_markup_is_shown_as_text_never_run()
    {
        // An operator's name or an agent's reason reaches the journal verbatim: here, markup in a journal line.
        Coordinator.Coordinator["cache"]!.Step((m, _) => [new RedisFailover.Coordination.IncidentChange("cache-t1-99", null),
            new RedisFailover.Coordination.JournalLine("requested", "<img src=x onerror=\"document.body.dataset.owned=1\"><script>document.body.dataset.owned=2</script>"),
            new RedisFailover.Coordination.IncidentChange(null, "refuted")]);
        var dom = await Chromium.DumpDomAsync($"{_dashboardUrl}/#token={FailoverUnderTest.Token}", TimeSpan.FromSeconds(8));
        Assert.Contains("data-loaded=", dom, StringComparison.Ordinal);
        Assert.Contains("&lt;img src=x onerror=", dom, StringComparison.Ordinal);
        Assert.DoesNotContain("data-owned", dom, StringComparison.Ordinal);
        Assert.DoesNotContain("<img", dom, StringComparison.Ordinal);
    }

    private async Task<int> PlanPointsAsync(HttpClient http, string? node = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _dashboardUrl + "/api/plan/cache");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", FailoverUnderTest.Token);
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("points").EnumerateArray().Count(p => node is null || p.GetProperty("node").GetString() == node);
    }
}
