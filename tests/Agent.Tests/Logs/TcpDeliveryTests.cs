using System.Buffers.Binary;
using RedisAgent.Logs;

namespace RedisAgent.Tests.Logs;

/// <summary>The bound on what a dead drain connection may have lost, on explicit TCP_INFO samples.</summary>
public sealed class TcpDeliveryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Lines_are_known_read_only_once_more_than_the_drains_buffer_came_after_them()
    {
        var delivery = new TcpDelivery();
        // 10 batches of 10 lines, 10 KB each; the drain advertises a 16 KB window (a 32 KB buffer).
        for (var i = 1; i <= 10; i++)
        {
            delivery.Wrote(new TcpSample(true, i * 10_000, i * 10_000, 16_384), 10, T0.AddSeconds(i), T0.AddSeconds(i));
        }

        // Acknowledged to 100,000: what came before 100,000 - 32,768 = 67,232 was read (6 batches).
        Assert.Equal((40, T0.AddSeconds(7), T0.AddSeconds(10)), delivery.Unconfirmed());
    }

    [Fact]
    public void Unacknowledged_lines_are_never_read_and_a_reset_connection_settles_nothing()
    {
        var delivery = new TcpDelivery();
        delivery.Wrote(new TcpSample(true, 1_000_000, 1_000_000, 1_000), 5, T0, T0);
        delivery.Wrote(new TcpSample(true, 1_100_000, 1_002_000, 1_000), 7, T0.AddSeconds(1), T0.AddSeconds(2));
        Assert.Equal((7, T0.AddSeconds(1), T0.AddSeconds(2)), delivery.Unconfirmed());

        // After a reset the counters say nothing new about the drain.
        delivery.Observe(new TcpSample(false, 1_100_000, 5_000_000, 1_000));
        Assert.Equal(7, delivery.Unconfirmed()!.Value.Lines);

        delivery.Observe(new TcpSample(true, 1_100_000, 1_200_000, 1_000));
        Assert.Null(delivery.Unconfirmed());
    }

    [Fact]
    public void Without_the_peers_window_the_buffer_is_taken_as_Linuxs_largest()
    {
        var delivery = new TcpDelivery();
        delivery.Wrote(new TcpSample(true, 1_000, 1_000, PeerWindow: null), 1, T0, T0);
        delivery.Observe(new TcpSample(true, 1_000, TcpDelivery.UnknownPeerBuffer, PeerWindow: null));
        Assert.NotNull(delivery.Unconfirmed());

        delivery.Observe(new TcpSample(true, 1_000, TcpDelivery.UnknownPeerBuffer + 1_000, PeerWindow: null));
        Assert.Null(delivery.Unconfirmed());
    }

    [Fact]
    public void A_frozen_drain_under_a_trickle_keeps_a_bounded_ledger_and_every_line_counted()
    {
        var delivery = new TcpDelivery();
        for (var i = 1; i <= TcpDelivery.MaxBatches * 3; i++)
        {
            // Nothing acknowledged: every line is at risk.
            delivery.Wrote(new TcpSample(true, i * 100, 0, 65_536), 1, T0.AddSeconds(i), T0.AddSeconds(i));
        }

        Assert.Equal((TcpDelivery.MaxBatches * 3, T0.AddSeconds(1), T0.AddSeconds(TcpDelivery.MaxBatches * 3)), delivery.Unconfirmed());
    }

    [Fact]
    public void TCP_INFO_is_read_at_the_kernels_offsets()
    {
        var info = new byte[232];
        info[0] = 1; // TCP_ESTABLISHED
        BinaryPrimitives.WriteInt64LittleEndian(info.AsSpan(120), 900);   // tcpi_bytes_acked
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(144), 50);   // tcpi_notsent_bytes
        BinaryPrimitives.WriteInt64LittleEndian(info.AsSpan(200), 1_100); // tcpi_bytes_sent
        BinaryPrimitives.WriteInt64LittleEndian(info.AsSpan(208), 100);   // tcpi_bytes_retrans
        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(228), 65_536); // tcpi_snd_wnd

        Assert.Equal(new TcpSample(true, 1_050, 900, 65_536), TcpSample.Parse(info));
        Assert.Equal(new TcpSample(true, 1_050, 900, null), TcpSample.Parse(info.AsSpan(0, 216)));
        Assert.Null(TcpSample.Parse(info.AsSpan(0, 104)));
    }

    [Fact]
    public async Task A_real_connections_TCP_INFO_counts_what_was_written_and_acknowledged()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        using var client = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await client.ConnectAsync((System.Net.IPEndPoint)listener.LocalEndpoint);
        using var server = await listener.AcceptSocketAsync();

        await client.SendAsync(new byte[1000]);
        var received = 0;
        var buffer = new byte[2000];
        while (received < 1000)
        {
            received += await server.ReceiveAsync(buffer);
        }

        TcpSample? sample = null;
        await RedisAgent.Testing.Poll.UntilAsync(() => (sample = TcpSample.Read(client)) is { Acknowledged: >= 1000 }, TimeSpan.FromSeconds(10), () => $"{sample}");
        Assert.True(sample!.Value.Established);
        Assert.Equal(1000, sample.Value.Written);
        Assert.True(sample.Value.PeerWindow > 0);
    }
}
