import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { platformaticClient } from '../../topology/runtimes/kafka/client/platformatic.ts';
import { spreadAssigner } from '../../topology/runtimes/kafka/client/spread-assigner.ts';
import type { Consumer } from '../../topology/runtimes/kafka/client/port.ts';
import { createLogger } from '../../topology/api/log.ts';
import { kafkajsSecurity, type KafkaSecurity } from '../../topology/runtimes/kafka/security.ts';

export interface ReadRecord<V = string> {
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: V | null;
  readonly headers: Record<string, string>;
}

interface ReadOptions {
  readonly readCommitted?: boolean;
  /** TLS and SASL of a secured broker (start-secure): read as that user. */
  readonly security?: KafkaSecurity | undefined;
}

/** Reads every record of a topic, up to the end offsets at call time, in offset order per partition. */
export const readTopic = (brokers: readonly string[], topic: string, options: ReadOptions = {}): Promise<ReadRecord[]> =>
  readRecords(brokers, topic, options, (v) => v.toString('utf8'));

/** readTopic with values as bytes, for binary formats (Avro). */
export const readTopicBytes = (brokers: readonly string[], topic: string, options: ReadOptions = {}): Promise<ReadRecord<Buffer>[]> =>
  readRecords(brokers, topic, options, (v) => v);

async function readRecords<V>(brokers: readonly string[], topic: string, options: ReadOptions, value: (bytes: Buffer) => V): Promise<ReadRecord<V>[]> {
  const kafka = new Kafka({ clientId: 'test-reader', brokers: [...brokers], ...kafkajsSecurity(options.security), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, Number(e.high)]));
  const out: ReadRecord<V>[] = [];
  if (remaining.size === 0) return out;
  const groupId = `reader-${randomUUID()}`;
  // Read committed through the library's @platformatic/kafka adapter, which decides aborted
  // transactions' records from each fetch's aborted-transaction list as the Java consumer does
  // (kafkajs's own filter misses some: README, Kafka clients); uncommitted reads see every record.
  const consumer: Consumer =
    options.readCommitted === true
      ? platformaticClient({ clientId: 'test-reader', brokers, log: createLogger('test-reader', 'error'), ...(options.security === undefined ? {} : { security: options.security }) }).consumer({ groupId, maxWaitTimeInMs: 100, assigner: spreadAssigner })
      : (kafka.consumer({ groupId, maxWaitTimeInMs: 100, readUncommitted: true }) as unknown as Consumer);
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), 60_000);
    // Read committed, a partition can end on transaction markers a consumer never sees:
    // once batches have flowed, a few quiet seconds also mean the end.
    let lastBatch: number | undefined;
    const quiet = setInterval(() => {
      if (lastBatch !== undefined && Date.now() - lastBatch > 3_000) {
        clearInterval(quiet);
        clearTimeout(timer);
        resolve();
      }
    }, 250);
    void consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        lastBatch = Date.now();
        const end = remaining.get(batch.partition);
        if (end === undefined) return;
        for (const m of batch.messages) {
          if (Number(m.offset) >= end) break;
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = v.toString();
          out.push({ partition: batch.partition, offset: Number(m.offset), key: m.key?.toString('utf8') ?? null, value: m.value === null ? null : value(m.value), headers });
        }
        if (Number(batch.lastOffset()) + 1 >= end) {
          remaining.delete(batch.partition);
          if (remaining.size === 0) {
            clearTimeout(timer);
            clearInterval(quiet);
            resolve();
          }
        }
      },
    });
  });
  await consumer.disconnect();
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}
