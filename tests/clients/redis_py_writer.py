"""An application on redis-py configured for Redis Sentinel, pointed at the coordinator's endpoint:
SET after SET for a bounded time, one line per outcome on stdout, for the test to read.
  python3 redis_py_writer.py <sentinel port> <master name> <seconds> <key prefix>
Lines: "ready", "ack <key> <unix ms>", "err <unix ms> <message>", "done <acknowledged>".
"""
import sys
import time

from redis.exceptions import ConnectionError, ReadOnlyError, TimeoutError
from redis.sentinel import MasterNotFoundError, Sentinel


def main():
    port, name, seconds, prefix = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    sentinel = Sentinel([("127.0.0.1", int(port))], socket_timeout=1, socket_connect_timeout=1)
    # A connection that fails is dropped; the next command asks the sentinels for the primary again.
    master = sentinel.master_for(name, socket_timeout=1, socket_connect_timeout=1, retry_on_timeout=False)
    master.ping()
    print("ready", flush=True)
    until = time.time() + seconds
    n = acknowledged = 0
    while time.time() < until:
        key = f"{prefix}:{n}"
        try:
            if master.set(key, "1"):
                acknowledged += 1
                n += 1
                print(f"ack {key} {int(time.time() * 1000)}", flush=True)
        except (ConnectionError, TimeoutError, ReadOnlyError, MasterNotFoundError) as e:
            print(f"err {int(time.time() * 1000)} {' '.join(str(e).split())}", flush=True)
        time.sleep(0.02)
    print(f"done {acknowledged}", flush=True)


if __name__ == "__main__":
    main()
