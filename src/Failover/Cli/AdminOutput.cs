using System.Globalization;
using System.Text;
using System.Text.Json;
using RedisFailover.Protos;

namespace RedisFailover.Cli;

internal static partial class AdminCommand
{
    /// <summary>What the verbs print for a person, in the wording of Heroku's CLI where it has one.</summary>
    internal static class Text
    {
        public static string Status(ResourceStatus status)
        {
            var text = new StringBuilder();
            text.Append(CultureInfo.InvariantCulture,
                $"{status.Resource}: {State(status)}, term {status.Term}, primary {status.Primary} ({status.PrimaryAddress}){(status.Paused ? ", automatic failover PAUSED" : "")}\n");
            if (status.Reason.Length > 0)
            {
                text.Append("  ").Append(status.Reason).Append('\n');
            }

            foreach (var blocker in status.FailoverBlockers)
            {
                text.Append("  failover impossible now: ").Append(blocker).Append('\n');
            }

            foreach (var node in status.Nodes)
            {
                text.Append(NodeLine(node, status.Primary));
            }

            return text.ToString();
        }

        /// <summary><c>heroku redis:info</c>: a header with the primary's address, then name-value lines, then the nodes.</summary>
        public static string Info(ResourceStatus status)
        {
            var primary = status.Nodes.FirstOrDefault(n => n.Node == status.Primary);
            var text = new StringBuilder();
            text.Append(CultureInfo.InvariantCulture, $"=== {status.Resource} ({(status.PrimaryAddress.Length > 0 ? "redis://" + status.PrimaryAddress : "no primary known")})\n");
            void Line(string name, string value) => text.Append(CultureInfo.InvariantCulture, $"{name,-20}{value}\n");
            Line("Plan", primary?.PlanUsage is { } plan ? Plan(plan) : "not reported yet");
            Line("Status", State(status) + (status.Reason.Length > 0 ? $" ({status.Reason})" : ""));
            Line("Primary", status.Primary.Length > 0 ? status.Primary : "none known");
            Line("Term", status.Term.ToString(CultureInfo.InvariantCulture));
            Line("Timeout", status.Settings?.HasTimeoutSeconds == true ? $"{status.Settings.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)} (from {status.TimeoutOrigin})" : "not managed (each node's own)");
            Line("Maxmemory", status.Settings?.HasMaxmemoryPolicy == true ? $"{status.Settings.MaxmemoryPolicy} (from {status.MaxmemoryPolicyOrigin})" : "not managed (each node's own)");
            Line("Automatic failover", status.Paused ? "PAUSED (redis-failover resume)" : "on");
            Line("Failover possible", status.FailoverBlockers.Count == 0 ? "yes" : "NO: " + string.Join("; ", status.FailoverBlockers));
            Line("Version", primary?.RedisVersion is { Length: > 0 } version ? version : "not reported yet");
            Line("Persistence:", primary?.Persistence is { Length: > 0 } persistence ? persistence : "not reported yet");
            text.Append(CultureInfo.InvariantCulture, $"Nodes (from {(status.NodesOrigin.Length > 0 ? status.NodesOrigin : "configuration")})\n");
            foreach (var node in status.Nodes)
            {
                text.Append(NodeLine(node, status.Primary));
            }

            return text.ToString();
        }

        /// <summary>The primary's plan and its use now, as <c>info</c> shows it: <c>premium-0 (memory 1.2 MB of 50 MB, connections 3 of 40)</c>.</summary>
        private static string Plan(PlanUsage plan) => string.Create(CultureInfo.InvariantCulture,
            $"{plan.Plan} (memory {Bytes(plan.UsedMemoryBytes)} of {(plan.MemoryLimitBytes > 0 ? Bytes(plan.MemoryLimitBytes) : "no limit")}, connections {plan.ActiveConnections} of {(plan.ConnectionLimit > 0 ? plan.ConnectionLimit.ToString(CultureInfo.InvariantCulture) : "no limit")})");

        private static string Bytes(long bytes) => bytes switch
        {
            >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.#} GB"),
            >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.#} MB"),
            >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 10):0.#} KB"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
        };

        /// <summary><c>nodes</c>: one line per node, and where the list came from.</summary>
        public static string Nodes(ResourceStatus status)
        {
            var text = new StringBuilder();
            text.Append(CultureInfo.InvariantCulture, $"=== {status.Resource} nodes (from {(status.NodesOrigin.Length > 0 ? status.NodesOrigin : "configuration")})\n");
            foreach (var node in status.Nodes)
            {
                text.Append(NodeLine(node, status.Primary));
            }

            return text.ToString();
        }

        public static string Incidents(IncidentList incidents)
        {
            var text = new StringBuilder();
            foreach (var incident in incidents.Incidents)
            {
                text.Append(CultureInfo.InvariantCulture, $"{incident.Id}: {incident.Outcome} (opened {incident.Opened.ToDateTimeOffset():yyyy-MM-ddTHH:mm:ss.fffZ})\n");
                foreach (var entry in incident.Entries)
                {
                    text.Append(CultureInfo.InvariantCulture, $"  {entry.At.ToDateTimeOffset():HH:mm:ss.fff} term {entry.Term} {entry.Kind,-10} {entry.Text}\n");
                }
            }

            return text.ToString();
        }

        public static string Timeout(string resource, long seconds) => seconds == 0
            ? $"Timeout for {resource} set to 0 seconds.\nConnections to the redis instance can idle indefinitely.\n"
            : string.Create(CultureInfo.InvariantCulture, $"Timeout for {resource} set to {seconds} seconds.\nConnections to the redis instance will be stopped after idling for {seconds} seconds.\n");

        /// <summary><c>heroku redis:maxmemory</c>'s two lines: the policy set, and what it does.</summary>
        public static string Maxmemory(string resource, string policy) =>
            $"Maxmemory policy for {resource} set to {policy}.\n{policy} {PolicyMeaning(policy)}.\n";

        private static string PolicyMeaning(string policy) => policy switch
        {
            "noeviction" => "return errors when memory limit is reached",
            "allkeys-lru" => "evict keys trying to remove the less recently used keys first",
            "volatile-lru" => "evict keys trying to remove the less recently used keys first, but only those that have an expiry set",
            "allkeys-random" => "evict random keys",
            "volatile-random" => "evict random keys, but only those that have an expiry set",
            "volatile-ttl" => "evict keys with an expiry set, those with a shorter time to live first",
            "volatile-lfu" => "evict using approximated LFU among the keys with an expiry set",
            "allkeys-lfu" => "evict any key using approximated LFU",
            _ => "",
        };

        private static string State(ResourceStatus status) =>
            status.State != Protos.ResourceState.Unspecified ? status.State.ToString() : status.StateName;

        private static string NodeLine(NodeStatus node, string primary)
        {
            var role = Vocabulary.Read(node.Role, node.RoleName).LegacyName();
            var standby = node.Node == primary ? "" : node.InSync ? ", in sync" : ", NOT in sync";
            return string.Create(CultureInfo.InvariantCulture,
                $"  {node.Node,-12} {node.Address,-22} zone {node.Zone,-6} {role,-8} offset {node.ReplicationOffset,-12} {(node.Connected ? "agent connected" : "agent NOT connected")}, {Vocabulary.Read(node.LocalVerdict, node.LocalVerdictName)}{standby}\n");
        }
    }

    /// <summary><c>--json</c>: one object (or an array for history) per call, names in snake_case as the proto has them.</summary>
    internal static class Json
    {
        public static string Status(ResourceStatus status) => Write(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("resource", status.Resource);
            writer.WriteString("state", status.State != Protos.ResourceState.Unspecified ? status.State.ToString() : status.StateName);
            writer.WriteNumber("term", status.Term);
            writer.WriteString("primary", status.Primary);
            writer.WriteString("primary_address", status.PrimaryAddress);
            writer.WriteBoolean("paused", status.Paused);
            writer.WriteString("reason", status.Reason);
            writer.WriteStartArray("failover_blockers");
            foreach (var blocker in status.FailoverBlockers)
            {
                writer.WriteStringValue(blocker);
            }

            writer.WriteEndArray();
            writer.WriteStartObject("settings");
            if (status.Settings?.HasTimeoutSeconds == true)
            {
                writer.WriteNumber("timeout_seconds", status.Settings.TimeoutSeconds);
            }

            if (status.Settings?.HasMaxmemoryPolicy == true)
            {
                writer.WriteString("maxmemory_policy", status.Settings.MaxmemoryPolicy);
            }

            writer.WriteEndObject();
            writer.WriteStartObject("origins");
            writer.WriteString("nodes", status.NodesOrigin);
            writer.WriteString("timeout_seconds", status.TimeoutOrigin);
            writer.WriteString("maxmemory_policy", status.MaxmemoryPolicyOrigin);
            writer.WriteEndObject();
            writer.WriteStartArray("nodes");
            foreach (var node in status.Nodes)
            {
                writer.WriteStartObject();
                writer.WriteString("node", node.Node);
                writer.WriteString("address", node.Address);
                writer.WriteString("zone", node.Zone);
                writer.WriteString("role", Vocabulary.Read(node.Role, node.RoleName).LegacyName());
                writer.WriteBoolean("connected", node.Connected);
                writer.WriteBoolean("in_sync", node.InSync);
                writer.WriteNumber("replication_offset", node.ReplicationOffset);
                writer.WriteBoolean("link_up", node.LinkUp);
                writer.WriteString("local_verdict", Vocabulary.Read(node.LocalVerdict, node.LocalVerdictName).ToString());
                writer.WriteString("redis_version", node.RedisVersion);
                writer.WriteString("persistence", node.Persistence);
                if (node.PlanUsage is { } plan)
                {
                    writer.WriteStartObject("plan_usage");
                    writer.WriteString("plan", plan.Plan);
                    writer.WriteNumber("used_memory_bytes", plan.UsedMemoryBytes);
                    writer.WriteNumber("memory_limit_bytes", plan.MemoryLimitBytes);
                    writer.WriteNumber("active_connections", plan.ActiveConnections);
                    writer.WriteNumber("connection_limit", plan.ConnectionLimit);
                    writer.WriteEndObject();
                }

                if (node.LastReport is { } at)
                {
                    writer.WriteString("last_report", at.ToDateTimeOffset());
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        });

        public static string Incidents(IncidentList incidents) => Write(writer =>
        {
            writer.WriteStartArray();
            foreach (var incident in incidents.Incidents)
            {
                writer.WriteStartObject();
                writer.WriteString("id", incident.Id);
                writer.WriteString("outcome", incident.Outcome);
                writer.WriteString("opened", incident.Opened.ToDateTimeOffset());
                if (incident.Closed is { } closed)
                {
                    writer.WriteString("closed", closed.ToDateTimeOffset());
                }

                writer.WriteStartArray("entries");
                foreach (var entry in incident.Entries)
                {
                    writer.WriteStartObject();
                    writer.WriteString("at", entry.At.ToDateTimeOffset());
                    writer.WriteNumber("term", entry.Term);
                    writer.WriteString("kind", entry.Kind);
                    writer.WriteString("text", entry.Text);
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        });

        private static string Write(Action<Utf8JsonWriter> write)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            {
                write(writer);
            }

            return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
        }
    }
}
