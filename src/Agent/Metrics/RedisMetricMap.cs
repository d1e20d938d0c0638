namespace RedisAgent.Metrics;

/// <summary>How a plain INFO field becomes a metric: its name without <c>redis_</c>, its type, and a scale (µs to s...).</summary>
internal sealed record InfoMetric(string Field, string Name, bool IsCounter, string Help, double Scale = 1);

/// <summary>
/// INFO fields exported under redis_exporter's exact names and types (its <c>metricMapGauges</c>
/// and <c>metricMapCounters</c>), so dashboards and alerts written for it keep working. Names that
/// break Prometheus conventions (a counter without <c>_total</c>) are kept as the exporter has them:
/// compatibility wins.
/// </summary>
internal static class RedisMetricMap
{
    public static IReadOnlyList<InfoMetric> Fields { get; } =
    [
        // Server
        Gauge("uptime_in_seconds", "uptime_in_seconds", "Seconds since the server started"),
        Gauge("process_id", "process_id", "The server's process id"),
        Gauge("io_threads_active", "io_threads_active", "1 when I/O threads are active"),

        // Clients
        Gauge("connected_clients", "connected_clients", "Client connections, replicas excluded"),
        Gauge("blocked_clients", "blocked_clients", "Clients blocked on a blocking call"),
        Gauge("tracking_clients", "tracking_clients", "Clients with client-side caching tracking on"),
        Gauge("client_recent_max_input_buffer", "client_recent_max_input_buffer_bytes", "Largest input buffer among current clients"),
        Gauge("client_recent_max_output_buffer", "client_recent_max_output_buffer_bytes", "Largest output buffer among current clients"),
        Gauge("client_longest_output_list", "client_longest_output_list", "Longest output list among current clients (Redis 4 and older)"),
        Gauge("client_biggest_input_buf", "client_biggest_input_buf", "Biggest input buffer among current clients (Redis 4 and older)"),

        // Memory
        Gauge("used_memory", "memory_used_bytes", "Bytes allocated by Redis"),
        Gauge("used_memory_rss", "memory_used_rss_bytes", "Resident set size of the server as the OS sees it"),
        Gauge("used_memory_peak", "memory_used_peak_bytes", "Peak of used_memory"),
        Gauge("used_memory_lua", "memory_used_lua_bytes", "Bytes used by the Lua engine"),
        Gauge("used_memory_overhead", "memory_used_overhead_bytes", "Bytes of internal overhead"),
        Gauge("used_memory_startup", "memory_used_startup_bytes", "Bytes used at startup"),
        Gauge("used_memory_dataset", "memory_used_dataset_bytes", "Bytes of the dataset (used_memory less overhead)"),
        Gauge("used_memory_scripts", "memory_used_scripts_bytes", "Bytes used by cached scripts"),
        Gauge("number_of_cached_scripts", "number_of_cached_scripts", "Cached Lua scripts"),
        Gauge("maxmemory", "memory_max_bytes", "maxmemory (0: no limit)"),
        Gauge("total_system_memory", "total_system_memory_bytes", "Memory of the host"),
        Gauge("mem_fragmentation_ratio", "mem_fragmentation_ratio", "used_memory_rss / used_memory"),
        Gauge("mem_fragmentation_bytes", "mem_fragmentation_bytes", "used_memory_rss - used_memory"),
        Gauge("mem_clients_slaves", "mem_clients_slaves", "Bytes used by replica clients' buffers"),
        Gauge("mem_clients_normal", "mem_clients_normal", "Bytes used by normal clients' buffers"),
        Gauge("mem_not_counted_for_evict", "mem_not_counted_for_eviction_bytes", "Bytes not counted against maxmemory"),
        Gauge("allocator_allocated", "allocator_allocated_bytes", "Bytes allocated by the allocator"),
        Gauge("allocator_active", "allocator_active_bytes", "Bytes in the allocator's active pages"),
        Gauge("allocator_resident", "allocator_resident_bytes", "Bytes resident in the allocator"),
        Gauge("allocator_frag_ratio", "allocator_frag_ratio", "Allocator fragmentation ratio"),
        Gauge("allocator_frag_bytes", "allocator_frag_bytes", "Allocator fragmentation bytes"),
        Gauge("allocator_rss_ratio", "allocator_rss_ratio", "Allocator RSS ratio"),
        Gauge("allocator_rss_bytes", "allocator_rss_bytes", "Allocator RSS bytes"),
        Gauge("lazyfree_pending_objects", "lazyfree_pending_objects", "Objects waiting to be freed lazily"),
        Gauge("active_defrag_running", "active_defrag_running", "1 while active defragmentation runs"),
        Gauge("expired_stale_perc", "expired_stale_percentage", "Estimated percentage of expired keys not yet reclaimed"),

        // Persistence
        Gauge("loading", "loading_dump_file", "1 while a dump file is loading"),
        Gauge("rdb_changes_since_last_save", "rdb_changes_since_last_save", "Changes since the last RDB save"),
        Gauge("rdb_bgsave_in_progress", "rdb_bgsave_in_progress", "1 while an RDB save runs"),
        Gauge("rdb_last_save_time", "rdb_last_save_timestamp_seconds", "Unix time of the last successful RDB save"),
        Gauge("rdb_last_bgsave_time_sec", "rdb_last_bgsave_duration_sec", "Duration of the last RDB save"),
        Gauge("rdb_current_bgsave_time_sec", "rdb_current_bgsave_duration_sec", "Duration of the running RDB save"),
        Gauge("rdb_last_cow_size", "rdb_last_cow_size_bytes", "Copy-on-write bytes of the last RDB save"),
        // A gauge in the exporter despite its _total: its type, for compatibility.
        Gauge("rdb_saves", "rdb_saves_total", "RDB saves since the server started"),
        Gauge("aof_enabled", "aof_enabled", "1 when the append-only file is on"),
        Gauge("aof_rewrite_in_progress", "aof_rewrite_in_progress", "1 while an AOF rewrite runs"),
        Gauge("aof_rewrite_scheduled", "aof_rewrite_scheduled", "1 when an AOF rewrite is scheduled"),
        Gauge("aof_last_rewrite_time_sec", "aof_last_rewrite_duration_sec", "Duration of the last AOF rewrite"),
        Gauge("aof_current_rewrite_time_sec", "aof_current_rewrite_duration_sec", "Duration of the running AOF rewrite"),
        Gauge("aof_last_cow_size", "aof_last_cow_size_bytes", "Copy-on-write bytes of the last AOF rewrite"),
        Gauge("aof_current_size", "aof_current_size_bytes", "Current AOF size"),
        Gauge("aof_base_size", "aof_base_size_bytes", "AOF size at the last rewrite"),
        Gauge("aof_pending_rewrite", "aof_pending_rewrite", "1 when an AOF rewrite waits for an RDB save"),
        Gauge("aof_buffer_length", "aof_buffer_length", "AOF buffer length"),
        Gauge("aof_rewrite_buffer_length", "aof_rewrite_buffer_length", "AOF rewrite buffer length"),
        Gauge("aof_pending_bio_fsync", "aof_pending_bio_fsync", "fsync jobs pending in the background queue"),
        Gauge("aof_delayed_fsync", "aof_delayed_fsync", "Delayed fsyncs"),
        Gauge("module_fork_in_progress", "module_fork_in_progress", "1 while a module fork runs"),
        Gauge("module_fork_last_cow_size", "module_fork_last_cow_size", "Copy-on-write bytes of the last module fork"),

        // Stats
        Counter("total_connections_received", "connections_received_total", "Connections accepted since the server started"),
        Counter("total_commands_processed", "commands_processed_total", "Commands processed since the server started"),
        Counter("rejected_connections", "rejected_connections_total", "Connections rejected because of maxclients"),
        Counter("total_net_input_bytes", "net_input_bytes_total", "Bytes read from the network"),
        Counter("total_net_output_bytes", "net_output_bytes_total", "Bytes written to the network"),
        Counter("expired_keys", "expired_keys_total", "Keys expired"),
        Counter("evicted_keys", "evicted_keys_total", "Keys evicted because of maxmemory"),
        Counter("keyspace_hits", "keyspace_hits_total", "Successful key lookups"),
        Counter("keyspace_misses", "keyspace_misses_total", "Failed key lookups"),
        Counter("total_error_replies", "total_error_replies", "Error replies sent"),
        Counter("unexpected_error_replies", "unexpected_error_replies", "Unexpected error replies (AOF load, replication)"),
        Counter("total_reads_processed", "total_reads_processed", "Read events processed"),
        Counter("total_writes_processed", "total_writes_processed", "Write events processed"),
        Counter("io_threaded_reads_processed", "io_threaded_reads_processed", "Reads processed by I/O threads"),
        Counter("io_threaded_writes_processed", "io_threaded_writes_processed", "Writes processed by I/O threads"),
        Counter("expired_time_cap_reached_count", "expired_time_cap_reached_total", "Times the active expire cycle hit its time cap"),
        Gauge("instantaneous_ops_per_sec", "instantaneous_ops_per_sec", "Commands per second, Redis's own estimate"),
        Gauge("instantaneous_input_kbps", "instantaneous_input_kbps", "Network input in KB/s, Redis's own estimate"),
        Gauge("instantaneous_output_kbps", "instantaneous_output_kbps", "Network output in KB/s, Redis's own estimate"),
        Gauge("sync_full", "replica_resyncs_full", "Full resyncs with replicas"),
        Gauge("sync_partial_ok", "replica_partial_resync_accepted", "Partial resyncs accepted"),
        Gauge("sync_partial_err", "replica_partial_resync_denied", "Partial resyncs denied"),
        Gauge("pubsub_channels", "pubsub_channels", "Pub/sub channels with subscribers"),
        Gauge("pubsub_patterns", "pubsub_patterns", "Pub/sub patterns with subscribers"),
        // The exporter's name and unit: no exporter emits _usec (issue 18).
        new("latest_fork_usec", "latest_fork_seconds", IsCounter: false, "Duration of the latest fork in seconds", Scale: 1e-6),
        Gauge("migrate_cached_sockets", "migrate_cached_sockets_total", "Sockets open for MIGRATE"),
        Gauge("active_defrag_hits", "defrag_hits", "Values reallocated by active defragmentation"),
        Gauge("active_defrag_misses", "defrag_misses", "Values active defragmentation skipped"),
        Gauge("active_defrag_key_hits", "defrag_key_hits", "Keys actively defragmented"),
        Gauge("active_defrag_key_misses", "defrag_key_misses", "Keys active defragmentation skipped"),
        Gauge("tracking_total_keys", "tracking_total_keys", "Keys tracked for client-side caching"),
        Gauge("tracking_total_items", "tracking_total_items", "Items tracked for client-side caching"),
        Gauge("tracking_total_prefixes", "tracking_total_prefixes", "Prefixes tracked for client-side caching"),

        // Replication
        Gauge("connected_slaves", "connected_slaves", "Replicas connected"),
        Gauge("master_repl_offset", "master_repl_offset", "The server's replication offset"),
        Gauge("second_repl_offset", "second_repl_offset", "Offset up to which replication ids are accepted"),
        Gauge("repl_backlog_active", "repl_backlog_is_active", "1 when the replication backlog is active"),
        Gauge("repl_backlog_size", "replication_backlog_bytes", "Replication backlog size"),
        Gauge("repl_backlog_first_byte_offset", "repl_backlog_first_byte_offset", "Offset of the backlog's first byte"),
        Gauge("repl_backlog_histlen", "repl_backlog_history_bytes", "Bytes of data in the backlog"),
        Gauge("slave_priority", "slave_priority", "Replica priority"),
        Gauge("slave_read_only", "slave_read_only", "1 when the replica is read-only"),
        Gauge("slave_expires_tracked_keys", "slave_expires_tracked_keys", "Keys tracked for expiry on a writable replica"),

        // CPU
        Counter("used_cpu_sys", "cpu_sys_seconds_total", "System CPU consumed by the server"),
        Counter("used_cpu_user", "cpu_user_seconds_total", "User CPU consumed by the server"),
        Counter("used_cpu_sys_children", "cpu_sys_children_seconds_total", "System CPU consumed by background processes"),
        Counter("used_cpu_user_children", "cpu_user_children_seconds_total", "User CPU consumed by background processes"),
        Counter("used_cpu_sys_main_thread", "cpu_sys_main_thread_seconds_total", "System CPU consumed by the main thread"),
        Counter("used_cpu_user_main_thread", "cpu_user_main_thread_seconds_total", "User CPU consumed by the main thread"),

        // Fields of Redis 7 and later (and of managed servers) that the current exporter maps, by its names and types.
        Counter("acl_access_denied_auth", "acl_access_denied_auth_total", "Authentications refused by ACL"),
        Counter("acl_access_denied_channel", "acl_access_denied_channel_total", "Commands refused by ACL for a channel"),
        Counter("acl_access_denied_cmd", "acl_access_denied_cmd_total", "Commands refused by ACL"),
        Counter("acl_access_denied_key", "acl_access_denied_key_total", "Commands refused by ACL for a key"),
        Gauge("allocator_muzzy", "allocator_muzzy_bytes", "Bytes in the allocator's muzzy pages"),
        Gauge("async_loading", "async_loading", "1 while a replica loads a dataset asynchronously (Redis 7)"),
        Counter("client_output_buffer_limit_disconnections", "client_output_buffer_limit_disconnections_total", "Clients disconnected for exceeding the output buffer limit"),
        Counter("client_query_buffer_limit_disconnections", "client_query_buffer_limit_disconnections_total", "Clients disconnected for exceeding the query buffer limit"),
        Gauge("clients_in_timeout_table", "clients_in_timeout_table", "Clients in the blocking-timeout table"),
        Gauge("current_eviction_exceeded_time", "current_eviction_exceeded_time_ms", "Milliseconds used_memory has been over maxmemory, now"),
        Counter("dump_payload_sanitizations", "dump_payload_sanitizations", "Deep sanitizations of RESTORE payloads"),
        Counter("eventloop_cycles", "eventloop_cycles_total", "Event loop cycles (Redis 7)"),
        Counter("eventloop_duration_cmd_sum", "eventloop_duration_cmd_sum_usec_total", "Microseconds the event loop spent on commands (Redis 7)"),
        Counter("eventloop_duration_sum", "eventloop_duration_sum_usec_total", "Microseconds the event loop ran (Redis 7)"),
        Counter("evicted_clients", "evicted_clients_total", "Clients evicted by maxmemory-clients (Redis 7)"),
        Counter("evicted_scripts", "evicted_scripts_total", "Scripts evicted (Redis 7.4)"),
        Counter("expire_cycle_cpu_milliseconds", "expire_cycle_cpu_time_ms_total", "CPU milliseconds spent in active expiry"),
        Counter("expired_subkeys", "expired_subkeys_total", "Hash fields expired (Redis 7.4)"),
        Gauge("instantaneous_eventloop_cycles_per_sec", "instantaneous_eventloop_cycles_per_sec", "Event loop cycles per second (Redis 7)"),
        Gauge("instantaneous_eventloop_duration_usec", "instantaneous_eventloop_duration_usec", "Microseconds per event loop cycle (Redis 7)"),
        Gauge("lazyfreed_objects", "lazyfreed_objects", "Objects freed lazily"),
        Gauge("maxclients", "max_clients", "maxclients, from INFO (Redis 7)"),
        Gauge("maxfragmentationmemory_desired_reservation", "memory_max_fragmentation_reservation_desired_bytes", "Desired fragmentation memory reservation (managed Redis)"),
        Gauge("maxfragmentationmemory_reservation", "memory_max_fragmentation_reservation_bytes", "Fragmentation memory reservation (managed Redis)"),
        Gauge("maxmemory_desired_reservation", "memory_max_reservation_desired_bytes", "Desired memory reservation (managed Redis)"),
        Gauge("maxmemory_reservation", "memory_max_reservation_bytes", "Memory reservation (managed Redis)"),
        Gauge("mem_aof_buffer", "mem_aof_buffer_bytes", "Bytes of AOF buffers"),
        Gauge("mem_cluster_links", "mem_cluster_links_bytes", "Bytes of cluster bus links (Redis 7)"),
        Gauge("mem_overhead_db_hashtable_rehashing", "mem_overhead_db_hashtable_rehashing_bytes", "Bytes of hash tables being rehashed (Redis 7.4)"),
        Gauge("mem_replication_backlog", "mem_replication_backlog_bytes", "Bytes of the replication backlog"),
        Gauge("mem_total_replication_buffers", "mem_total_replication_buffers_bytes", "Bytes of replication buffers (Redis 7)"),
        Gauge("number_of_functions", "number_of_functions", "Functions loaded (Redis 7)"),
        Gauge("number_of_libraries", "number_of_libraries", "Function libraries loaded (Redis 7.4)"),
        Gauge("pubsub_clients", "pubsub_clients", "Clients in pub/sub mode (Redis 7.4)"),
        Gauge("pubsubshard_channels", "pubsubshard_channels", "Sharded pub/sub channels with subscribers (Redis 7)"),
        Gauge("rdb_last_load_keys_expired", "rdb_last_load_expired_keys", "Keys found expired at the last RDB load (Redis 7)"),
        Gauge("rdb_last_load_keys_loaded", "rdb_last_load_loaded_keys", "Keys loaded at the last RDB load (Redis 7)"),
        Counter("reply_buffer_expands", "reply_buffer_expands_total", "Reply buffer expansions (Redis 7)"),
        Counter("reply_buffer_shrinks", "reply_buffer_shrinks_total", "Reply buffer shrinks (Redis 7)"),
        Gauge("total_blocking_keys", "total_blocking_keys", "Keys clients block on (Redis 7.2)"),
        Gauge("total_blocking_keys_on_nokey", "total_blocking_keys_on_nokey", "Keys clients block on until they are deleted (Redis 7.2)"),
        Counter("total_eviction_exceeded_time", "eviction_exceeded_time_ms_total", "Milliseconds used_memory was over maxmemory, in all"),
        Counter("total_net_repl_input_bytes", "net_repl_input_bytes_total", "Bytes read for replication"),
        Counter("total_net_repl_output_bytes", "net_repl_output_bytes_total", "Bytes written for replication"),
        Gauge("total_watched_keys", "total_watched_keys", "Keys watched by WATCH (Redis 7.4)"),
        Counter("used_active_time_main_thread", "active_time_main_thread_seconds_total", "Active time of the main thread as INFO gives it (Redis 8)"),
        Gauge("used_memory_functions", "memory_used_functions_bytes", "Bytes of function overhead (Redis 7)"),
        Gauge("used_memory_scripts_eval", "memory_used_scripts_eval_bytes", "Bytes of EVAL script overhead (Redis 7)"),
        Gauge("used_memory_vm_eval", "memory_used_vm_eval_bytes", "Bytes of the EVAL Lua engine (Redis 7)"),
        Gauge("used_memory_vm_functions", "memory_used_vm_functions_bytes", "Bytes of the functions Lua engine (Redis 7)"),
        Gauge("used_memory_vm_total", "memory_used_vm_total", "Bytes of all Lua engines (Redis 7)"),
        Gauge("watching_clients", "watching_clients", "Clients in WATCH (Redis 7.4)"),

        // Cluster
        Gauge("cluster_enabled", "cluster_enabled", "1 when cluster mode is on"),
    ];

    /// <summary>INFO fields whose value is <c>ok</c> or <c>err</c>, exported as 1 or 0.</summary>
    public static IReadOnlyList<InfoMetric> StatusFields { get; } =
    [
        Gauge("rdb_last_bgsave_status", "rdb_last_bgsave_status", "1 when the last RDB save succeeded"),
        Gauge("aof_last_bgrewrite_status", "aof_last_bgrewrite_status", "1 when the last AOF rewrite succeeded"),
        Gauge("aof_last_write_status", "aof_last_write_status", "1 when the last AOF write succeeded"),
    ];

    private static InfoMetric Gauge(string field, string name, string help) => new(field, name, IsCounter: false, help);

    private static InfoMetric Counter(string field, string name, string help) => new(field, name, IsCounter: true, help);
}
