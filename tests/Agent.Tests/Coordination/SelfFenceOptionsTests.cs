extern alias agent;
using agent::RedisAgent.Coordination;

namespace RedisAgent.Tests.Coordination;

/// <summary>
/// The self-fence is on by default (issue 16): unset, it follows two report intervals, so a primary
/// cut off from the coordinator and every peer stops taking writes about two seconds after the cut
/// at the defaults; zero turns it off; a value shorter than two report intervals is refused.
/// </summary>
public sealed class SelfFenceOptionsTests
{
    [Fact]
    public void Unset_it_is_two_report_intervals_and_zero_turns_it_off()
    {
        Assert.Equal(TimeSpan.FromSeconds(2), new CoordinatorOptions().FenceAfter);
        Assert.Equal(TimeSpan.FromMilliseconds(500), new CoordinatorOptions { ReportInterval = TimeSpan.FromMilliseconds(250) }.FenceAfter);
        Assert.Equal(TimeSpan.FromMilliseconds(750), new CoordinatorOptions { ReportInterval = TimeSpan.FromMilliseconds(250), SelfFenceAfter = TimeSpan.FromMilliseconds(750) }.FenceAfter);
        Assert.Null(new CoordinatorOptions { SelfFenceAfter = TimeSpan.Zero }.FenceAfter);
    }

    [Theory]
    [InlineData("00:00:00", true)]
    [InlineData("00:00:02", true)]
    [InlineData("00:00:01", false)]
    [InlineData("-00:00:01", false)]
    public void Zero_is_off_and_a_fence_shorter_than_two_reports_or_negative_is_refused(string value, bool valid)
    {
        var options = new CoordinatorOptions { Url = "http://127.0.0.1:1", Token = "a-token-0123456789", Resource = "cache", SelfFenceAfter = TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture) };
        var result = new CoordinatorOptionsValidator().Validate(null, options);
        Assert.Equal(valid, result.Succeeded);
        if (!valid)
        {
            Assert.Contains("Coordinator:SelfFenceAfter", result.FailureMessage, StringComparison.Ordinal);
        }
    }
}
