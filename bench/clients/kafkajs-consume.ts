/**
 * Raw consume throughput of kafkajs: the runtime's consumer settings (eachBatch, 8 MiB per
 * partition, 50 ms max wait), doing nothing with the records and committing nothing.
 * Prints `done <records> <ms since process start> <ms at the first record> <value bytes>` once `expected` records have arrived.
 *
 *   node bench/clients/kafkajs-consume.ts BROKER TOPIC GROUP EXPECTED
 */
import { Kafka, logLevel } from 'kafkajs';

const [broker, topic, group, expectedArg] = process.argv.slice(2);
if (broker === undefined || topic === undefined || group === undefined || expectedArg === undefined) {
  process.stderr.write('usage: kafkajs-consume.ts BROKER TOPIC GROUP EXPECTED\n');
  process.exit(2);
}
const expected = Number(expectedArg);
// kafkajs sets timers from throttle times that newer Node reports as negative: harmless noise.
process.removeAllListeners('warning');
const kafka = new Kafka({ clientId: 'bench-kafkajs', brokers: [broker], logLevel: logLevel.WARN });
const consumer = kafka.consumer({ groupId: group, allowAutoTopicCreation: false, maxWaitTimeInMs: 50, maxBytesPerPartition: 8 * 1024 * 1024, maxBytes: 32 * 1024 * 1024 });
let records = 0;
let bytes = 0;
let first = 0;
await consumer.connect();
await consumer.subscribe({ topics: [topic], fromBeginning: true });
await consumer.run({
  autoCommit: false,
  partitionsConsumedConcurrently: 1,
  eachBatch: async ({ batch }) => {
    if (records === 0) first = performance.now();
    records += batch.messages.length;
    for (const m of batch.messages) bytes += m.value?.length ?? 0;
    if (records >= expected) {
      process.stdout.write(`done ${records} ${Math.round(performance.now())} ${Math.round(first)} ${bytes}\n`, () => process.exit(0));
    }
  },
});
