import type { StreamRecord } from './record.ts';

/**
 * A sink outside Kafka (files, HDFS). Writes are buffered synchronously on the hot path;
 * `commit` makes them durable and is awaited before the input offsets they cover are
 * committed, so a crash replays rather than loses.
 */
export interface ExternalSink<K, V> {
  /** Buffers one record; synchronous, on the hot path. */
  write(record: StreamRecord<K, V>): void;
  /** Makes every record written so far durable; the runtime commits input offsets only after it resolves. */
  commit(): Promise<void>;
  /** Releases the sink when its task closes; records not committed may be dropped (they are read again). */
  close(): Promise<void>;
}

/** Builds one sink per task, so two tasks never write the same file. */
export type ExternalSinkFactory<K, V> = (taskId: string) => ExternalSink<K, V>;
