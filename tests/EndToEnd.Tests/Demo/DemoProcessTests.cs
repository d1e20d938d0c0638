using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using RedisAgent.Testing;
using RedisAgent.Testing.Hosts;
using RedisAgent.Tests.HostProbing;

namespace RedisAgent.Tests.Demo;

/// <summary>
/// The README's first command, as a user runs it: redis-demo starts a whole resource, both faults
/// behave as it says, and Ctrl-C leaves no process and no iptables rule behind.
/// </summary>
[Collection(LoopbackHostsCollection.Name)]
public sealed class DemoProcessTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task The_demo_starts_a_resource_survives_both_faults_and_leaves_nothing_running_after_Ctrl_C()
    {
        var lines = new ConcurrentQueue<string>();
        using var demo = new Process
        {
            StartInfo = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "redis-demo"), ["--window", "5", "--first-address", "31"])
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            },
        };
        demo.OutputDataReceived += (_, e) => Keep(e.Data);
        demo.ErrorDataReceived += (_, e) => Keep(e.Data);
        demo.Start();
        demo.BeginOutputReadLine();
        demo.BeginErrorReadLine();
        try
        {
            await Until("| ready", TimeSpan.FromSeconds(120));
            Assert.Contains(lines, l => l.Contains("live tail", StringComparison.Ordinal) && l.Contains("logs -t --url", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains("admin CLI", StringComparison.Ordinal));

            // Fault 1: the primary's process dies; its agent restarts it and nothing fails over.
            await demo.StandardInput.WriteLineAsync("k");
            await Until("| kill -9 ", TimeSpan.FromSeconds(10));
            await UntilAfter("| kill -9 ", "Restarted redis with the command driver", TimeSpan.FromSeconds(30));
            // Redis's own lines reach the console through the agents' live tails.
            await Until("redis[demo]: ", TimeSpan.FromSeconds(30));
            // Its replicas resync from the restarted primary (in full when it came back with a new
            // replication ID: after Redis's diskless-sync delay, 5 s); until one is in sync, no failover
            // is allowed. The coordinator's journal is not the signal: while the primary's agent still
            // said its Redis was down, a replica that was in sync before counted as a standby for a
            // moment (CI, 2026-12-02: "in-sync" 0.4 s after the restart, Degraded again until the sync).
            await Poll.UntilAsync(
                () => After("Restarted redis with the command driver").Count(l => l.Contains("MASTER <-> REPLICA sync: Finished with success", StringComparison.Ordinal)
                    || l.Contains("Master accepted a Partial Resynchronization", StringComparison.Ordinal)) >= 2,
                TimeSpan.FromSeconds(60), () => $"both replicas did not resync after the restart. Output:\n{string.Join('\n', lines.TakeLast(80))}");
            await Poll.UntilAsync(() => lines.LastOrDefault(l => l.Contains("| resource demo: ", StringComparison.Ordinal))?.Contains("| resource demo: Healthy", StringComparison.Ordinal) == true,
                TimeSpan.FromSeconds(30), () => $"the resource was not Healthy after its replicas resynced. Output:\n{string.Join('\n', lines.TakeLast(80))}");
            Assert.DoesNotContain(lines, l => l.Contains("term 2", StringComparison.Ordinal));

            // Fault 2: the primary's host is lost; a confirmed failover follows.
            await demo.StandardInput.WriteLineAsync("l");
            await Until("Healthy, term 2, primary host-", TimeSpan.FromSeconds(60));
            Assert.Contains(lines, l => l.Contains("journal confirmed:", StringComparison.Ordinal));

            // The host comes back, and the old primary is made a replica.
            await demo.StandardInput.WriteLineAsync("r");
            await Until("host-1 carried out ReplicateFrom", TimeSpan.FromSeconds(30));
        }
        finally
        {
            // Ctrl-C, as a user stops it.
            Signals.Send(demo.Id, Signals.SigInt);
            if (!demo.WaitForExit(TimeSpan.FromSeconds(60)))
            {
                demo.Kill(entireProcessTree: true);
            }

            // Only the overload without a timeout waits for the redirected output to be read to its end.
            demo.WaitForExit();

            output.WriteLine(string.Join('\n', lines));
        }

        Assert.Equal(0, demo.ExitCode);
        var stopping = lines.Single(l => l.Contains("| stopping pids ", StringComparison.Ordinal));
        var pids = stopping[(stopping.IndexOf("pids ", StringComparison.Ordinal) + 5)..].Split(' ').Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(10, pids.Count); // three agents, the coordinator, three sshd, three redis-server
        await Poll.UntilAsync(() => pids.All(Signals.IsGone), TimeSpan.FromSeconds(20),
            () => "still running: " + string.Join(' ', pids.Where(p => !Signals.IsGone(p))));
        Assert.Contains(lines, l => l.Contains("iptables rules of the demo left: 0", StringComparison.Ordinal));
        Assert.DoesNotContain(Partition.Tag, Iptables());

        void Keep(string? line)
        {
            if (line is not null)
            {
                lines.Enqueue(line);
            }
        }

        Task UntilAfter(string marker, string text, TimeSpan timeout) =>
            Poll.UntilAsync(
                () =>
                {
                    var seen = lines.ToList();
                    var from = seen.FindLastIndex(l => l.Contains(marker, StringComparison.Ordinal));
                    return from >= 0 && seen.Skip(from + 1).Any(l => l.Contains(text, StringComparison.Ordinal));
                },
                timeout,
                () => $"the demo did not print '{text}' after '{marker}'. Output:\n{string.Join('\n', lines.TakeLast(80))}");

        bool Printed(string text) => lines.Any(l => l.Contains(text, StringComparison.Ordinal));

        // The lines printed after the last one that contains marker (none when it was not printed).
        List<string> After(string marker)
        {
            var seen = lines.ToList();
            var from = seen.FindLastIndex(l => l.Contains(marker, StringComparison.Ordinal));
            return from < 0 ? [] : seen.Skip(from + 1).ToList();
        }

        async Task Until(string text, TimeSpan timeout)
        {
            await Poll.UntilAsync(() => Printed(text) || demo.HasExited, timeout,
                () => $"the demo did not print '{text}'. Output:\n{string.Join('\n', lines.TakeLast(80))}");
            Assert.True(Printed(text), $"the demo exited before printing '{text}':\n{string.Join('\n', lines)}");
        }
    }

    private static string Iptables()
    {
        using var process = Process.Start(new ProcessStartInfo("iptables", ["-w", "5", "-S"]) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var listing = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return listing;
    }
}
