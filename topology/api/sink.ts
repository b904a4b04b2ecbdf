import type { StreamRecord } from './record.ts';

/**
 * A sink outside Kafka (files, HDFS). Writes are buffered synchronously on the hot path;
 * `commit` makes them durable and is awaited before the input offsets they cover are
 * committed, so a crash replays rather than loses.
 */
export interface ExternalSink<K, V> {
  write(record: StreamRecord<K, V>): void;
  commit(): Promise<void>;
  close(): Promise<void>;
}

/** Builds one sink per task, so two tasks never write the same file. */
export type ExternalSinkFactory<K, V> = (taskId: string) => ExternalSink<K, V>;
