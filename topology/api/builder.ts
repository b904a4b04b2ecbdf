import type { ProcessorSupplier } from './processor.ts';
import type { StreamRecord } from './record.ts';
import { Serdes, type Serde } from './serdes.ts';
import type { ExternalSinkFactory } from './sink.ts';
import type { TimeWindows } from './windows.ts';
import { Stores, type StoreBuilder } from '../../state-stores/stores.ts';
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

export interface Consumed<K, V> {
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
  readonly name?: string;
  /** Event time from the payload; by default the Kafka record timestamp. */
  readonly timestampExtractor?: TimestampExtractor<K, V>;
}

export interface Produced<K, V> {
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
  readonly name?: string;
}

export interface Grouped<K, V> {
  /** Names the repartition topic (`<name>-repartition`); generated when absent. */
  readonly name?: string;
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
}

export interface Materialized<K, A> {
  readonly storeName?: string;
  readonly keyCodec?: StoreCodec<K>;
  readonly valueCodec?: StoreCodec<A>;
  readonly logged?: boolean;
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

  addStateStore(store: StoreBuilder): this {
    this.stores.push(store);
    return this;
  }

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

  filter(predicate: (key: K, value: V) => boolean, name?: string): KStream<K, V> {
    return this.stateless<K, V>('KSTREAM-FILTER', (r, fwd) => predicate(r.key, r.value) && fwd(r), this.keyChanged, name);
  }

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

  mapValues<V2>(mapper: (value: V, key: K) => V2, name?: string): KStream<K, V2> {
    return this.stateless<K, V2>('KSTREAM-MAPVALUES', (r, fwd) => fwd({ ...r, value: mapper(r.value, r.key) }), this.keyChanged, name);
  }

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

  groupByKey(grouped: Grouped<K, V> = {}): KGroupedStream<K, V> {
    return new KGroupedStream<K, V>(this.keyChanged ? this.repartition(grouped) : this);
  }

  groupBy<K2>(selector: (key: K, value: V) => K2, grouped: Grouped<K2, V> = {}): KGroupedStream<K2, V> {
    return this.selectKey(selector).groupByKey(grouped);
  }
}

export class KGroupedStream<K, V> {
  readonly stream: KStream<K, V>;
  constructor(stream: KStream<K, V>) {
    this.stream = stream;
  }

  windowedBy(windows: TimeWindows): TimeWindowedKStream<K, V> {
    return new TimeWindowedKStream(this.stream, windows);
  }

  aggregate<A>(initializer: () => A, aggregator: (key: K, value: V, aggregate: A) => A, materialized: Materialized<K, A> = {}): KTable<K, A> {
    const b = this.stream.builder;
    const storeName = materialized.storeName ?? b.nextName('KSTREAM-AGGREGATE-STATE-STORE');
    b.addStateStore(Stores.keyValueStore<K, A>(storeName, storeOptions(materialized)));
    const out = this.stream.process<K, A>(aggregateProcessor(storeName, initializer, aggregator), { name: b.nextName('KSTREAM-AGGREGATE'), stores: [storeName], keyChanged: false });
    return new KTable<K, A>(out, undefined);
  }

  count(materialized: Materialized<K, number> = {}): KTable<K, number> {
    return this.aggregate(() => 0, (_k, _v, n) => n + 1, materialized);
  }

  reduce(reducer: (a: V, b: V) => V, materialized: Materialized<K, V> = {}): KTable<K, V> {
    return this.aggregate<V | undefined>(() => undefined, (_k, v, acc) => (acc === undefined ? v : reducer(acc, v)), materialized as Materialized<K, V | undefined>) as KTable<K, V>;
  }
}

export class TimeWindowedKStream<K, V> {
  readonly stream: KStream<K, V>;
  readonly windows: TimeWindows;
  constructor(stream: KStream<K, V>, windows: TimeWindows) {
    this.stream = stream;
    this.windows = windows;
  }

  aggregate<A>(initializer: () => A, aggregator: (key: K, value: V, aggregate: A) => A, materialized: Materialized<K, A> = {}): KTable<Windowed<K>, A> {
    const b = this.stream.builder;
    const storeName = materialized.storeName ?? b.nextName('KSTREAM-AGGREGATE-STATE-STORE');
    b.addStateStore(Stores.windowStore<K, A>(storeName, this.windows.sizeMs, this.windows.sizeMs + this.windows.graceMs, storeOptions(materialized)));
    const out = this.stream.process<Windowed<K>, A>(windowAggregateProcessor(storeName, this.windows, initializer, aggregator), {
      name: b.nextName('KSTREAM-WINDOWED-AGGREGATE'),
      stores: [storeName],
      keyChanged: false,
    });
    return new KTable<Windowed<K>, A>(out, this.windows);
  }

  count(materialized: Materialized<K, number> = {}): KTable<Windowed<K>, number> {
    return this.aggregate(() => 0, (_k, _v, n) => n + 1, materialized);
  }

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

const storeOptions = <K, A>(m: Materialized<K, A>) => ({
  keyCodec: m.keyCodec ?? jsonCodec<K>(),
  valueCodec: m.valueCodec ?? jsonCodec<A>(),
  logged: m.logged ?? true,
});
