import type { ProcessorSupplier } from './processor.ts';
import type { StreamRecord } from './record.ts';
import { Serdes, type Serde } from './serdes.ts';
import type { ExternalSinkFactory } from './sink.ts';
import type { TimeWindows } from './windows.ts';
import { Stores, type StoreBuilder, type StoreKind } from '../../state-stores/stores.ts';
import { jsonCodec, stringCodec, type StoreCodec, type Windowed } from '../../state-stores/api.ts';
import { NameGenerator, type GraphNode, type InternalTopic, type TimestampExtractor } from '../internals/graph.ts';
import { Topology } from '../internals/compile.ts';
import {
  aggregateProcessor,
  branchProcessor,
  statelessProcessor,
  suppressProcessor,
  windowAggregateProcessor,
  type SuppressedRecord,
} from '../internals/operators.ts';

/** How `StreamsBuilder.stream` reads its topics: the serdes (bytes by default), the source's name, the event time. */
export interface Consumed<K, V> {
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
  /** Names the source node; generated (`KSTREAM-SOURCE-0000000000`) when absent. */
  readonly name?: string;
  /** Event time from the payload; by default the Kafka record timestamp. */
  readonly timestampExtractor?: TimestampExtractor<K, V>;
}

/** How `KStream.to` writes a topic: the serdes (JSON by default) and the sink's name. */
export interface Produced<K, V> {
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
  /** Names the sink node; generated when absent. */
  readonly name?: string;
}

/** How records are grouped: the repartition topic's name and serdes (JSON by default), used when the key changed. */
export interface Grouped<K, V> {
  /** Names the repartition topic (`<name>-repartition`); generated when absent. */
  readonly name?: string;
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
}

/**
 * The store an aggregate lives in: its name (generated when absent; name it to query it or to
 * keep its changelog topic's name when the topology changes), how keys and values are encoded
 * in it and its changelog (JSON by default), and whether it is logged (default true).
 */
export interface Materialized<K, A> {
  readonly storeName?: string;
  readonly keyCodec?: StoreCodec<K>;
  readonly valueCodec?: StoreCodec<A>;
  /** Whether changes go to the `<application>-<store>-changelog` topic, so the store can be restored. Default true. */
  readonly logged?: boolean;
  /**
   * Pins the store's kind, as Kafka Streams' `Materialized.withStoreType`: `rocksdb` for state
   * larger than memory, `memory` for a small hot one. Absent: the runtime's default (`defaultStore`, `--store`).
   */
  readonly storeType?: StoreKind;
  /**
   * Whether updates of a key collapse before they go downstream, as Kafka Streams' record cache
   * (`Materialized.withCachingEnabled`, its default): within a batch and before each commit only
   * the latest update per key (and window) is forwarded, so a busy key costs one downstream
   * record per batch instead of one per input record. The store and its changelog still see every
   * change. `false` forwards every update, as Kafka Streams with `withCachingDisabled()`. Default true.
   */
  readonly caching?: boolean;
}

/**
 * Records the graph of a topology. Nothing runs here: `build()` validates the graph and
 * returns a `Topology` that runtimes execute.
 */
export class StreamsBuilder {
  private readonly nodes: GraphNode[] = [];
  private readonly stores: StoreBuilder[] = [];
  private readonly internalTopics: InternalTopic[] = [];
  private readonly names = new NameGenerator();

  /**
   * A stream of the records of one or more topics, decoded with the serdes of `consumed`.
   *
   * @example
   * ```ts
   * const lines = builder.stream<string | null, string | null>('sentences', { keySerde: Serdes.string, valueSerde: Serdes.string });
   * ```
   */
  stream<K = Uint8Array | null, V = Uint8Array | null>(topics: string | readonly string[], consumed: Consumed<K, V> = {}): KStream<K, V> {
    const name = consumed.name ?? this.names.next('KSTREAM-SOURCE');
    this.addNode({
      kind: 'source',
      name,
      topics: typeof topics === 'string' ? [topics] : [...topics],
      keySerde: (consumed.keySerde ?? Serdes.bytes) as Serde<unknown>,
      valueSerde: (consumed.valueSerde ?? Serdes.bytes) as Serde<unknown>,
      ...(consumed.timestampExtractor === undefined ? {} : { timestampExtractor: consumed.timestampExtractor as TimestampExtractor<unknown, unknown> }),
    });
    return new KStream<K, V>(this, name, false);
  }

  /** Adds a store for custom processors (`KStream.process` with `stores: [name]`) to reach with `getStateStore`. */
  addStateStore(store: StoreBuilder): this {
    this.stores.push(store);
    return this;
  }

  /** Validates the recorded graph and compiles it into a `Topology` (throws a `TopologyError` when it is invalid). */
  build(): Topology {
    return new Topology(this.nodes, this.stores, this.internalTopics);
  }

  /** @internal */ addNode(node: GraphNode): void {
    this.nodes.push(node);
  }
  /** @internal */ addInternalTopic(topic: InternalTopic): void {
    this.internalTopics.push(topic);
  }
  /** @internal */ nextName(prefix: string): string {
    return this.names.next(prefix);
  }
}

type Forward<K, V> = (r: StreamRecord<K, V>) => void;

/**
 * A stream of keyed records, typed by key and value through the whole chain. Each operation
 * records a node of the graph and returns the stream after it; nothing runs until a runtime
 * executes the built `Topology`.
 */
export class KStream<K, V> {
  readonly builder: StreamsBuilder;
  readonly nodeName: string;
  /** True after an operation that may have changed the key: grouping then needs a repartition. */
  readonly keyChanged: boolean;

  constructor(builder: StreamsBuilder, nodeName: string, keyChanged: boolean) {
    this.builder = builder;
    this.nodeName = nodeName;
    this.keyChanged = keyChanged;
  }

  private stateless<K2, V2>(prefix: string, apply: (r: StreamRecord<K, V>, forward: Forward<K2, V2>) => void, keyChanged: boolean, name?: string): KStream<K2, V2> {
    return this.process<K2, V2>(statelessProcessor(apply), { name: name ?? this.builder.nextName(prefix), keyChanged });
  }

  /** Keeps the records for which `predicate` is true. */
  filter(predicate: (key: K, value: V) => boolean, name?: string): KStream<K, V> {
    return this.stateless<K, V>('KSTREAM-FILTER', (r, fwd) => predicate(r.key, r.value) && fwd(r), this.keyChanged, name);
  }

  /** Replaces each record's key and value; a later grouping repartitions, since the key may have changed. */
  map<K2, V2>(mapper: (key: K, value: V) => readonly [K2, V2], name?: string): KStream<K2, V2> {
    return this.stateless<K2, V2>(
      'KSTREAM-MAP',
      (r, fwd) => {
        const [key, value] = mapper(r.key, r.value);
        fwd({ ...r, key, value });
      },
      true,
      name,
    );
  }

  /**
   * Replaces each record's value, keeping its key (no repartition needed afterwards).
   *
   * @example
   * ```ts
   * stream.mapValues((line) => line.length); // KStream<K, number>
   * ```
   */
  mapValues<V2>(mapper: (value: V, key: K) => V2, name?: string): KStream<K, V2> {
    return this.stateless<K, V2>('KSTREAM-MAPVALUES', (r, fwd) => fwd({ ...r, value: mapper(r.value, r.key) }), this.keyChanged, name);
  }

  /** Turns each record into zero or more records, each with its own key and value. */
  flatMap<K2, V2>(mapper: (key: K, value: V) => Iterable<readonly [K2, V2]>, name?: string): KStream<K2, V2> {
    return this.stateless<K2, V2>(
      'KSTREAM-FLATMAP',
      (r, fwd) => {
        for (const [key, value] of mapper(r.key, r.value)) fwd({ ...r, key, value });
      },
      true,
      name,
    );
  }

  /** Calls `action` on each record (logging, metrics) and passes it on unchanged. */
  peek(action: (key: K, value: V) => void, name?: string): KStream<K, V> {
    return this.stateless<K, V>(
      'KSTREAM-PEEK',
      (r, fwd) => {
        action(r.key, r.value);
        fwd(r);
      },
      this.keyChanged,
      name,
    );
  }

  /** Gives each record a new key computed from it, keeping its value. */
  selectKey<K2>(selector: (key: K, value: V) => K2, name?: string): KStream<K2, V> {
    return this.stateless<K2, V>('KSTREAM-KEY-SELECT', (r, fwd) => fwd({ ...r, key: selector(r.key, r.value) }), true, name);
  }

  /** One stream per predicate; a record goes to the first that matches and is dropped if none does. */
  branch(...predicates: ((key: K, value: V) => boolean)[]): KStream<K, V>[] {
    const name = this.builder.nextName('KSTREAM-BRANCH');
    const childNames = predicates.map((_, i) => `${name}-${i}`);
    this.builder.addNode({ kind: 'processor', name, parents: [this.nodeName], supplier: branchProcessor(predicates, childNames) as ProcessorSupplier<unknown, unknown, unknown, unknown>, stores: [] });
    return childNames.map((child) => {
      this.builder.addNode({ kind: 'processor', name: child, parents: [name], supplier: statelessProcessor((r, fwd) => fwd(r)), stores: [] });
      return new KStream<K, V>(this.builder, child, this.keyChanged);
    });
  }

  /** A custom processor (the Processor API) as a step of the DSL. */
  process<K2, V2>(supplier: ProcessorSupplier<K, V, K2, V2>, options: { name?: string; stores?: readonly string[]; keyChanged?: boolean } = {}): KStream<K2, V2> {
    const name = options.name ?? this.builder.nextName('KSTREAM-PROCESSOR');
    this.builder.addNode({
      kind: 'processor',
      name,
      parents: [this.nodeName],
      supplier: supplier as ProcessorSupplier<unknown, unknown, unknown, unknown>,
      stores: options.stores ?? [],
    });
    return new KStream<K2, V2>(this.builder, name, options.keyChanged ?? true);
  }

  /** Writes every record to a Kafka topic, with the serdes of `produced` (JSON by default). */
  to(topic: string, produced: Produced<K, V> = {}): void {
    this.builder.addNode({
      kind: 'sink',
      name: produced.name ?? this.builder.nextName('KSTREAM-SINK'),
      parents: [this.nodeName],
      topic,
      keySerde: (produced.keySerde ?? Serdes.json<K>()) as Serde<unknown>,
      valueSerde: (produced.valueSerde ?? Serdes.json<V>()) as Serde<unknown>,
    });
  }

  /** A sink outside Kafka (files, HDFS): one instance per task, committed before offsets. */
  sink(factory: ExternalSinkFactory<K, V>, name?: string): void {
    this.builder.addNode({
      kind: 'external-sink',
      name: name ?? this.builder.nextName('KSTREAM-EXTERNAL-SINK'),
      parents: [this.nodeName],
      factory: factory as ExternalSinkFactory<unknown, unknown>,
    });
  }

  /**
   * Redistributes records by key through an internal topic. The topic also carries each
   * upstream partition's stream time, so downstream windows close on the minimum of them.
   */
  repartition(grouped: Grouped<K, V> = {}): KStream<K, V> {
    const base = grouped.name ?? this.builder.nextName('KSTREAM-REPARTITION');
    const topic = `${base}-repartition`;
    this.builder.addInternalTopic({ name: topic, kind: 'repartition' });
    this.builder.addNode({
      kind: 'sink',
      name: `${base}-sink`,
      parents: [this.nodeName],
      topic,
      keySerde: (grouped.keySerde ?? Serdes.json<K>()) as Serde<unknown>,
      valueSerde: (grouped.valueSerde ?? Serdes.json<V>()) as Serde<unknown>,
    });
    const source = `${base}-source`;
    this.builder.addNode({
      kind: 'source',
      name: source,
      topics: [topic],
      keySerde: (grouped.keySerde ?? Serdes.json<K>()) as Serde<unknown>,
      valueSerde: (grouped.valueSerde ?? Serdes.json<V>()) as Serde<unknown>,
    });
    return new KStream<K, V>(this.builder, source, false);
  }

  /** Groups records by their key for an aggregation; repartitions first when an earlier step may have changed the key. */
  groupByKey(grouped: Grouped<K, V> = {}): KGroupedStream<K, V> {
    return new KGroupedStream<K, V>(this.keyChanged ? this.repartition(grouped) : this);
  }

  /** Groups records by a new key computed from each (then repartitions by it): `selectKey` and `groupByKey` in one. */
  groupBy<K2>(selector: (key: K, value: V) => K2, grouped: Grouped<K2, V> = {}): KGroupedStream<K2, V> {
    return this.selectKey(selector).groupByKey(grouped);
  }
}

/** A stream grouped by key, ready to aggregate per key, or per key and window after `windowedBy`. */
export class KGroupedStream<K, V> {
  readonly stream: KStream<K, V>;
  constructor(stream: KStream<K, V>) {
    this.stream = stream;
  }

  /** Aggregates per key and event-time window from here on. */
  windowedBy(windows: TimeWindows): TimeWindowedKStream<K, V> {
    return new TimeWindowedKStream(this.stream, windows);
  }

  /** Folds each key's records into an aggregate kept in a (logged) key-value store; its updates go downstream (collapsed per batch unless `caching: false`). */
  aggregate<A>(initializer: () => A, aggregator: (key: K, value: V, aggregate: A) => A, materialized: Materialized<K, A> = {}): KTable<K, A> {
    const b = this.stream.builder;
    const storeName = materialized.storeName ?? b.nextName('KSTREAM-AGGREGATE-STATE-STORE');
    const factory = materialized.storeType === 'rocksdb' ? Stores.persistentKeyValueStore : materialized.storeType === 'memory' ? Stores.inMemoryKeyValueStore : Stores.keyValueStore;
    b.addStateStore(factory<K, A>(storeName, storeOptions(materialized)));
    const out = this.stream.process<K, A>(aggregateProcessor(storeName, initializer, aggregator, cacheKeyOf(materialized)), { name: b.nextName('KSTREAM-AGGREGATE'), stores: [storeName], keyChanged: false });
    return new KTable<K, A>(out, undefined);
  }

  /** Counts the records of each key. */
  count(materialized: Materialized<K, number> = {}): KTable<K, number> {
    return this.aggregate(() => 0, (_k, _v, n) => n + 1, materialized);
  }

  /** Combines the values of each key with `reducer`, the first value as the start. */
  reduce(reducer: (a: V, b: V) => V, materialized: Materialized<K, V> = {}): KTable<K, V> {
    return this.aggregate<V | undefined>(() => undefined, (_k, v, acc) => (acc === undefined ? v : reducer(acc, v)), materialized as Materialized<K, V | undefined>) as KTable<K, V>;
  }
}

/** A grouped stream cut into event-time windows: its aggregates are per key and window, kept until the window closes. */
export class TimeWindowedKStream<K, V> {
  readonly stream: KStream<K, V>;
  readonly windows: TimeWindows;
  constructor(stream: KStream<K, V>, windows: TimeWindows) {
    this.stream = stream;
    this.windows = windows;
  }

  /**
   * Folds the records of each key and window into an aggregate, in a window store that keeps
   * open windows only (size + grace). A record for a window that has closed is late: skipped and
   * counted in the `late-records` metric.
   */
  aggregate<A>(initializer: () => A, aggregator: (key: K, value: V, aggregate: A) => A, materialized: Materialized<K, A> = {}): KTable<Windowed<K>, A> {
    const b = this.stream.builder;
    const storeName = materialized.storeName ?? b.nextName('KSTREAM-AGGREGATE-STATE-STORE');
    const factory = materialized.storeType === 'rocksdb' ? Stores.persistentWindowStore : materialized.storeType === 'memory' ? Stores.inMemoryWindowStore : Stores.windowStore;
    b.addStateStore(factory<K, A>(storeName, this.windows.sizeMs, this.windows.sizeMs + this.windows.graceMs, storeOptions(materialized)));
    const out = this.stream.process<Windowed<K>, A>(windowAggregateProcessor(storeName, this.windows, initializer, aggregator, cacheKeyOf(materialized)), {
      name: b.nextName('KSTREAM-WINDOWED-AGGREGATE'),
      stores: [storeName],
      keyChanged: false,
    });
    return new KTable<Windowed<K>, A>(out, this.windows);
  }

  /**
   * Counts the records of each key and window.
   *
   * @example
   * ```ts
   * views.groupBy((_user, view) => view.page).windowedBy(TimeWindows.tumbling(60_000, 10_000)).count();
   * ```
   */
  count(materialized: Materialized<K, number> = {}): KTable<Windowed<K>, number> {
    return this.aggregate(() => 0, (_k, _v, n) => n + 1, materialized);
  }

  /** Combines the values of each key and window with `reducer`, the first value as the start. */
  reduce(reducer: (a: V, b: V) => V, materialized: Materialized<K, V> = {}): KTable<Windowed<K>, V> {
    return this.aggregate<V | undefined>(() => undefined, (_k, v, acc) => (acc === undefined ? v : reducer(acc, v)), materialized as Materialized<K, V | undefined>) as KTable<Windowed<K>, V>;
  }
}

/** A changelog stream: every update of an aggregate. */
export class KTable<K, V> {
  private readonly changes: KStream<K, V>;
  readonly windows: TimeWindows | undefined;
  constructor(changes: KStream<K, V>, windows: TimeWindows | undefined) {
    this.changes = changes;
    this.windows = windows;
  }

  /** The table's updates as a stream (one record per change, or per closed window after `suppressUntilWindowCloses`). */
  toStream(): KStream<K, V> {
    return this.changes;
  }

  /**
   * Emits one final record per window and key when the window closes (windowed tables only).
   * Pending finals live in a logged store named `<node name>-store`: derived from the node's
   * stable name, so every process built from the same code agrees on its changelog topic.
   */
  suppressUntilWindowCloses(name?: string): KTable<K, V> {
    if (this.windows === undefined) throw new TypeError('suppress(untilWindowCloses) needs a windowed table');
    const b = this.changes.builder;
    const nodeName = name ?? b.nextName('KTABLE-SUPPRESS');
    const storeName = `${nodeName}-store`;
    b.addStateStore(Stores.keyValueStore<string, SuppressedRecord<unknown, V>>(storeName, { keyCodec: stringCodec, valueCodec: jsonCodec() }));
    const keyOf = (k: unknown) => JSON.stringify(k);
    const out = this.changes.process<K, V>(suppressProcessor<unknown, V>(storeName, this.windows.graceMs, keyOf) as unknown as ProcessorSupplier<K, V, K, V>, {
      name: nodeName,
      stores: [storeName],
      keyChanged: false,
    });
    return new KTable<K, V>(out, this.windows);
  }
}

/** The cache's identity of a key: the store's own key encoding, so keys equal in the store are one entry. */
const cacheKeyOf = <K, A>(m: Materialized<K, A>): ((key: K) => string) | undefined => {
  if (m.caching === false) return undefined;
  const codec = m.keyCodec ?? jsonCodec<K>();
  return (key) => codec.encode(key);
};

const storeOptions = <K, A>(m: Materialized<K, A>) => ({
  keyCodec: m.keyCodec ?? jsonCodec<K>(),
  valueCodec: m.valueCodec ?? jsonCodec<A>(),
  logged: m.logged ?? true,
});
