/** One record flowing through a topology. Timestamps are event time in epoch milliseconds. */
export interface StreamRecord<K, V> {
  readonly key: K;
  readonly value: V;
  readonly timestamp: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Where the record being processed came from: set by the runtime for every input record. */
export interface RecordOrigin {
  readonly topic: string;
  readonly partition: number;
  /** Kafka offset, or the line number for a file replay. */
  readonly offset: number;
}

export const record = <K, V>(
  key: K,
  value: V,
  timestamp: number,
  headers?: Readonly<Record<string, string>>,
): StreamRecord<K, V> => (headers === undefined ? { key, value, timestamp } : { key, value, timestamp, headers });
