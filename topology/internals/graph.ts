import type { ProcessorSupplier } from '../api/processor.ts';
import type { Serde } from '../api/serdes.ts';
import type { ExternalSinkFactory } from '../api/sink.ts';

/** Graph nodes are immutable records; the builder only appends them. */
export type GraphNode = SourceNode | ProcessorNode | SinkNode | ExternalSinkNode;

export interface SourceNode {
  readonly kind: 'source';
  readonly name: string;
  readonly topics: readonly string[];
  readonly keySerde: Serde<unknown>;
  readonly valueSerde: Serde<unknown>;
  readonly timestampExtractor?: TimestampExtractor<unknown, unknown>;
}

/**
 * Event time of a record, from its payload. A non-finite result means "no event time" (an
 * invalid record): the record still flows, but does not move stream time.
 */
export type TimestampExtractor<K, V> = (key: K, value: V, recordTimestamp: number) => number;

export interface ProcessorNode {
  readonly kind: 'processor';
  readonly name: string;
  readonly parents: readonly string[];
  readonly supplier: ProcessorSupplier<unknown, unknown, unknown, unknown>;
  readonly stores: readonly string[];
}

export interface SinkNode {
  readonly kind: 'sink';
  readonly name: string;
  readonly parents: readonly string[];
  readonly topic: string;
  readonly keySerde: Serde<unknown>;
  readonly valueSerde: Serde<unknown>;
}

export interface ExternalSinkNode {
  readonly kind: 'external-sink';
  readonly name: string;
  readonly parents: readonly string[];
  readonly factory: ExternalSinkFactory<unknown, unknown>;
}

export interface InternalTopic {
  readonly name: string;
  /** Repartition topics carry watermarks so downstream windows close on every upstream partition. */
  readonly kind: 'repartition';
}

export const parentsOf = (n: GraphNode): readonly string[] => (n.kind === 'source' ? [] : n.parents);

/** Stable generated names, as in Kafka Streams: the same code gives the same names in every process. */
export class NameGenerator {
  private index = 0;
  next(prefix: string): string {
    return `${prefix}-${String(this.index++).padStart(10, '0')}`;
  }
}
