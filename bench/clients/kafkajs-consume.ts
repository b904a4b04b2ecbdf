/**
 * Raw consume throughput of kafkajs: the runtime's consumer settings (eachBatch, 8 MiB per
 * partition, 50 ms max wait), doing nothing with the records and committing nothing.
 * Prints `done <records> <ms since process start> <ms at the first record> <value bytes>` once `expected` records have arrived.
 *
 *   node bench/clients/kafkajs-consume.ts BROKER TOPIC GROUP EXPECTED
 */
import { Kafka, logLevel } from 'kafkajs';
import { consumeArgs, Tally } from './tally.ts';

const { broker, topic, group, expected } = consumeArgs('kafkajs-consume.ts');
// kafkajs sets timers from throttle times that newer Node reports as negative: harmless noise.
process.removeAllListeners('warning');
const kafka = new Kafka({ clientId: 'bench-kafkajs', brokers: [broker], logLevel: logLevel.WARN });
const consumer = kafka.consumer({ groupId: group, allowAutoTopicCreation: false, maxWaitTimeInMs: 50, maxBytesPerPartition: 8 * 1024 * 1024, maxBytes: 32 * 1024 * 1024 });
const tally = new Tally(expected);
await consumer.connect();
await consumer.subscribe({ topics: [topic], fromBeginning: true });
await consumer.run({
  autoCommit: false,
  partitionsConsumedConcurrently: 1,
  eachBatch: async ({ batch }) => {
    tally.batch(batch.messages);
  },
});
