using System.Text;
using RedisAgent.Logs;

namespace RedisAgent.Tests.Logs;

public sealed class LineSplitterTests
{
    [Fact]
    public void Feed_splits_on_newline_only_keeps_partial_lines_for_later()
    {
        var splitter = new LineSplitter();

        var first = splitter.Feed("one\r\ntw"u8).ToList();
        var second = splitter.Feed("o with\ra carriage return\nthr"u8).ToList();

        Assert.Equal(["one"], first.Select(l => l.Text));
        Assert.Equal(["two with\ra carriage return"], second.Select(l => l.Text));
        Assert.True(splitter.HasPartial);
        Assert.Equal("thr", splitter.Flush()!.Value.Text);
        Assert.Null(splitter.Flush());
    }

    [Fact]
    public void Feed_invalid_UTF_8_becomes_replacement_characters()
    {
        var lines = new LineSplitter().Feed([0x6f, 0x6b, 0xc3, 0x28, 0xff, (byte)'\n']).ToList();

        Assert.Equal("ok\uFFFD(\uFFFD", Assert.Single(lines).Text);
    }

    [Fact]
    public void Feed_multibyte_character_split_across_reads_is_decoded_whole()
    {
        var splitter = new LineSplitter();
        var bytes = Encoding.UTF8.GetBytes("café\n");

        var lines = splitter.Feed(bytes.AsSpan(0, 4)).Concat(splitter.Feed(bytes.AsSpan(4))).ToList();

        Assert.Equal("café", Assert.Single(lines).Text);
    }

    [Fact]
    public void Feed_long_line_stays_one_line_keeps_the_cap_and_counts_the_rest()
    {
        var splitter = new LineSplitter(maxLineBytes: 1000);

        // An endless line holds no more than the cap, whatever arrives.
        Assert.Empty(splitter.Feed(Encoding.ASCII.GetBytes(new string('x', 2500))));
        Assert.Empty(splitter.Feed(Encoding.ASCII.GetBytes(new string('y', 2500))));
        var lines = splitter.Feed("z\nnext\n"u8);

        Assert.Equal(2, lines.Count);
        Assert.Equal(new SplitLine(new string('x', 1000), 4001), lines[0]);
        Assert.Equal(new SplitLine("next"), lines[1]);
        Assert.Null(splitter.Flush());
    }

    [Fact]
    public void Feed_cut_inside_a_character_drops_the_whole_character()
    {
        var splitter = new LineSplitter(maxLineBytes: 4);

        // "abé" is 4 bytes, then "€" (3 bytes) is cut after its first byte.
        var line = Assert.Single(splitter.Feed(Encoding.UTF8.GetBytes("abé€xyz\n")));

        Assert.Equal(new SplitLine("abé", 6), line);
        Assert.Equal(new SplitLine("ab", 8), Assert.Single(new LineSplitter(maxLineBytes: 3).Feed(Encoding.UTF8.GetBytes("abé€xyz\n"))));
    }
}
