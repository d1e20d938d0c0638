using System.Text;
using RedisAgent.Logs;

namespace RedisAgent.Tests.Logs;

public sealed class LineSplitterTests
{
    [Fact]
    public void Feed_SplitsOnNewlineOnly_KeepsPartialLinesForLater()
    {
        var splitter = new LineSplitter();

        var first = splitter.Feed("one\r\ntw"u8).ToList();
        var second = splitter.Feed("o with\ra carriage return\nthr"u8).ToList();

        Assert.Equal(["one"], first);
        Assert.Equal(["two with\ra carriage return"], second);
        Assert.True(splitter.HasPartial);
        Assert.Equal("thr", splitter.Flush());
        Assert.Null(splitter.Flush());
    }

    [Fact]
    public void Feed_InvalidUtf8_BecomesReplacementCharacters()
    {
        var lines = new LineSplitter().Feed([0x6f, 0x6b, 0xc3, 0x28, 0xff, (byte)'\n']).ToList();

        Assert.Equal("ok\uFFFD(\uFFFD", Assert.Single(lines));
    }

    [Fact]
    public void Feed_MultibyteCharacterSplitAcrossReads_IsDecodedWhole()
    {
        var splitter = new LineSplitter();
        var bytes = Encoding.UTF8.GetBytes("café\n");

        var lines = splitter.Feed(bytes.AsSpan(0, 4)).Concat(splitter.Feed(bytes.AsSpan(4))).ToList();

        Assert.Equal("café", Assert.Single(lines));
    }

    [Fact]
    public void Feed_EndlessLine_IsCutAtTheCap()
    {
        var splitter = new LineSplitter(maxLineBytes: 1000);

        var lines = splitter.Feed(Encoding.ASCII.GetBytes(new string('x', 2500))).ToList();

        Assert.Equal(2, lines.Count);
        Assert.All(lines, l => Assert.Equal(1000, l.Length));
        Assert.Equal(500, splitter.Flush()!.Length);
    }
}
