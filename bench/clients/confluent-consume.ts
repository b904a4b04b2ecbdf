/**
 * Raw consume throughput of @confluentinc/kafka-javascript (librdkafka) through its
 * KafkaJS-compatible API: the kafkajs row's settings (eachBatch, 2 MiB per partition, 50 ms max
 * wait, one partition at a time), doing nothing with the records and committing nothing.
 * Prints `done <records> <ms since process start> <ms at the first record> <value bytes>` once `expected` records have arrived.
 *
 * The project does not depend on the package: it is loaded from the directory in CONFLUENT_CLIENT,
 * the path infra/confluent-client.sh prints (a dynamically linked build in .cache/confluent-client).
 * CONFLUENT_BATCH_SIZE sets the package's `js.consumer.max.batch.size` (its default, 32, when unset;
 * -1: whatever librdkafka has fetched).
 *
 *   CONFLUENT_CLIENT=$(infra/confluent-client.sh) node bench/clients/confluent-consume.ts BROKER TOPIC GROUP EXPECTED
 */
import { createRequire } from 'node:module';
import { consumeArgs, Tally } from './tally.ts';

const { broker, topic, group, expected } = consumeArgs('confluent-consume.ts', 'CONFLUENT_CLIENT=DIR ');
const pkg = process.env.CONFLUENT_CLIENT;
if (pkg === undefined || pkg === '') {
  process.stderr.write('confluent-consume.ts: set CONFLUENT_CLIENT to the package directory that infra/confluent-client.sh prints\n');
  process.exit(2);
}
const batchSize = process.env.CONFLUENT_BATCH_SIZE;

// Only the few members used here: the package is not a dependency, so no types come with it.
type Batch = { messages: { value: Buffer | null }[] };
type Consumer = {
  connect(): Promise<void>;
  subscribe(s: { topics: string[] }): Promise<void>;
  run(c: { partitionsConsumedConcurrently: number; eachBatch: (p: { batch: Batch }) => Promise<void> }): Promise<void>;
};
type KafkaJS = {
  Kafka: new (c: object) => { consumer(c: object): Consumer };
  logLevel: { WARN: number };
};
const { Kafka, logLevel } = (createRequire(import.meta.url)(pkg) as { KafkaJS: KafkaJS }).KafkaJS;

const kafka = new Kafka({ kafkaJS: { clientId: 'bench-confluent', brokers: [broker], logLevel: logLevel.WARN } });
const consumer = kafka.consumer({
  kafkaJS: { groupId: group, allowAutoTopicCreation: false, fromBeginning: true, autoCommit: false, maxWaitTimeInMs: 50, maxBytesPerPartition: 2 * 1024 * 1024 },
  ...(batchSize === undefined || batchSize === '' ? {} : { 'js.consumer.max.batch.size': Number(batchSize) }),
});
const tally = new Tally(expected);
await consumer.connect();
await consumer.subscribe({ topics: [topic] });
await consumer.run({
  partitionsConsumedConcurrently: 1,
  eachBatch: async ({ batch }) => {
    tally.batch(batch.messages);
  },
});
