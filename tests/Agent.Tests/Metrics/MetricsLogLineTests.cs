using RedisAgent.Metrics;
using RedisAgent.Sampling;

namespace RedisAgent.Tests.Metrics;

public sealed class MetricsLogLineTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public void The_line_has_Herokus_form_with_percentages_of_the_plan()
    {
        var plan = Plans.Find("premium-0", new Dictionary<string, CustomPlanOptions>());
        var sample = PlanTests.Sample(
            ("connected_clients", "11"), ("used_memory", (10 * MiB).ToString()), ("maxmemory", "0"), ("evicted_keys", "7"),
            ("keyspace_hits", "30"), ("keyspace_misses", "10"));

        var line = MetricsLogLine.Format("redis-clear-69157", plan, sample, previous: null, new HostReading((0.5, 0.25, 0.125), new HostMemory(15664876, 13668600, 1370920), (0, 0.11233)));

        Assert.Equal(
            "source=REDIS addon=redis-clear-69157 sample#active-connections=10 sample#max-connections=40 sample#connection-percentage-used=0.25 " +
            "sample#load-avg-1m=0.5 sample#load-avg-5m=0.25 sample#load-avg-15m=0.125 sample#read-iops=0 sample#write-iops=0.11233 " +
            "sample#memory-total=15664876kB sample#memory-free=13668600kB sample#memory-cached=1370920kB sample#memory-redis=10485760bytes " +
            "sample#memory-max=52428800bytes sample#memory-percentage-used=0.2 sample#hit-rate=0.75 sample#evicted-keys=7",
            line);
    }

    [Fact]
    public void The_hit_rate_covers_the_lookups_since_the_previous_line()
    {
        var previous = PlanTests.Sample(("keyspace_hits", "30"), ("keyspace_misses", "10"));
        var sample = PlanTests.Sample(("keyspace_hits", "31"), ("keyspace_misses", "13"));

        Assert.Contains("sample#hit-rate=0.25 ", MetricsLogLine.Format("r", null, sample, previous, default), StringComparison.Ordinal);
    }

    [Fact]
    public void No_lookups_no_hit_rate_and_no_limit_no_percentage()
    {
        var sample = PlanTests.Sample(("keyspace_hits", "30"), ("keyspace_misses", "10"), ("used_memory", "100"), ("maxmemory", "0"));

        var line = MetricsLogLine.Format("r", null, sample, sample, default);

        Assert.DoesNotContain("hit-rate", line, StringComparison.Ordinal);
        Assert.DoesNotContain("memory-percentage-used", line, StringComparison.Ordinal);
        Assert.DoesNotContain("NaN", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Infinity", line, StringComparison.Ordinal);
    }

    [Fact]
    public void After_a_restart_the_hit_rate_counts_from_the_restart()
    {
        var previous = PlanTests.Sample(("keyspace_hits", "1000"), ("keyspace_misses", "1000"));
        var sample = PlanTests.Sample(("keyspace_hits", "9"), ("keyspace_misses", "1"));

        Assert.Contains("sample#hit-rate=0.9 ", MetricsLogLine.Format("r", null, sample, previous, default), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.52 0.58 0.59 2/467 12345\n", 0.52, 0.58, 0.59)]
    [InlineData("12.00 3.5 1 1/1 1", 12.0, 3.5, 1.0)]
    public void Load_averages_are_read_from_proc_loadavg(string text, double one, double five, double fifteen) =>
        Assert.Equal((one, five, fifteen), LoadAverage.Parse(text));

    [Fact]
    public void This_hosts_load_average_can_be_read() => Assert.NotNull(LoadAverage.Read());

    [Fact]
    public void Host_memory_comes_from_meminfo_in_kB()
    {
        const string MemInfo = "MemTotal:       24683548 kB\nMemFree:        23526252 kB\nMemAvailable:   23900000 kB\nBuffers:          100 kB\nCached:           657896 kB\nSwapCached:            0 kB\n";

        Assert.Equal(new HostMemory(24683548, 23526252, 657896), HostStats.ParseMemory(MemInfo));
        Assert.Null(HostStats.ParseMemory("MemTotal: 1 kB\n"));
        Assert.NotNull(HostStats.ReadMemory());
    }

    [Fact]
    public void The_disk_under_a_directory_is_the_longest_mount_that_holds_it()
    {
        const string MountInfo =
            "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n" +
            "30 26 8:1 / /var/lib/redis rw,relatime - ext4 /dev/sda1 rw\n" +
            "31 26 0:40 / /var/lib/redis\\040cache rw - tmpfs tmpfs rw\n" +
            "32 26 8:2 / /var/lib/red rw - ext4 /dev/sda2 rw\n";
        const string DiskStats =
            " 254       0 vda 471435 47466 35973682 297042 345409 56112 37287928 100574 0 206228 440665\n" +
            "   8       1 sda1 100 0 800 10 250 0 2000 30 0 40 40\n";

        Assert.Equal("8:1", HostStats.DeviceOf("/var/lib/redis", MountInfo));
        Assert.Equal("8:1", HostStats.DeviceOf("/var/lib/redis/", MountInfo));
        Assert.Equal("254:0", HostStats.DeviceOf("/var/lib/redis2", MountInfo));
        Assert.Equal("0:40", HostStats.DeviceOf("/var/lib/redis cache/db", MountInfo));
        Assert.Null(HostStats.DeviceOf("relative/dir", MountInfo));
        Assert.Equal(new DiskCounters(100, 250), HostStats.ParseDisk(DiskStats, "8:1"));
        // tmpfs and overlay have no block device: no iops rather than a made-up 0.
        Assert.Null(HostStats.ParseDisk(DiskStats, "0:40"));
    }
}
