// An application on ioredis configured for Redis Sentinel, pointed at the coordinator's endpoint:
// SET after SET for a bounded time, one line per outcome on stdout, for the test to read.
//   node ioredis-writer.js <sentinel port> <master name> <seconds> <key prefix>
// Lines: "ready", "ack <key> <unix ms>", "err <unix ms> <message>", "done <acknowledged>".
'use strict';
const Redis = require('ioredis');

const [port, name, seconds, prefix] = process.argv.slice(2);
const redis = new Redis({
  sentinels: [{ host: '127.0.0.1', port: Number(port) }],
  name,
  // As an application that wants to follow a failover quickly would set it: listen for
  // +switch-master and reconnect at once, and never wait on a blackholed primary for long.
  failoverDetector: true,
  connectTimeout: 1000,
  commandTimeout: 1000,
  maxRetriesPerRequest: 0,
  retryStrategy: () => 100,
  sentinelRetryStrategy: () => 100,
});
redis.on('error', () => {});

const until = Date.now() + Number(seconds) * 1000;
let next = 0;
let acknowledged = 0;

async function main() {
  await redis.ping();
  process.stdout.write('ready\n');
  while (Date.now() < until) {
    const key = `${prefix}:${next}`;
    try {
      if ((await redis.set(key, '1')) === 'OK') {
        acknowledged++;
        next++;
        process.stdout.write(`ack ${key} ${Date.now()}\n`);
      }
    } catch (e) {
      process.stdout.write(`err ${Date.now()} ${String(e.message).replace(/\s+/g, ' ')}\n`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  process.stdout.write(`done ${acknowledged}\n`);
  redis.disconnect();
}

main().catch((e) => {
  process.stderr.write(`ioredis-writer: ${e.stack}\n`);
  process.exit(1);
});
