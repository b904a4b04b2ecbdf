import type { DeadLetterContext } from '../api/handlers.ts';
import type { Serde } from '../api/serdes.ts';
import type { Topology } from '../internals/compile.ts';
import { partitionFor } from '../internals/partitioner.ts';
import type { RawRecord } from '../internals/task.ts';
import { InProcessRuntime, type InProcessOptions } from './in-process.ts';

export interface TestDriverOptions extends Omit<InProcessOptions, 'wallClock' | 'retainDeadLetters'> {
  /**
   * Initial value of the fake wall clock (epoch ms); default the real time at construction, as
   * in Kafka Streams' TopologyTestDriver. The event-time guard (`maxFutureMs`, 1 hour by default)
   * reads this clock: a record stamped more than that after it is dead-lettered as `future-timestamp`.
   */
  readonly wallClockStart?: number;
}

export interface PipeOptions {
  readonly timestamp?: number;
  /** Partition to write to; by default Kafka's partitioner on the serialized key. */
  readonly partition?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface TestOutputRecord<K, V> {
  readonly key: K;
  readonly value: V;
  readonly timestamp: number;
  readonly partition: number;
  /** Present when the record has headers (dead letters, late records). */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Runs a topology without a broker, in one thread, on a fake wall clock, like Kafka Streams'
 * TopologyTestDriver. Input topics may have several partitions; each piped record is
 * processed at once, as a batch of one, unless piped with `pipeBatch`.
 */
export class TopologyTestDriver {
  private readonly runtime: InProcessRuntime;
  private clock: number;

  constructor(topology: Topology, options: TestDriverOptions = {}) {
    this.clock = options.wallClockStart ?? Date.now();
    this.runtime = new InProcessRuntime(topology, { ...options, wallClock: () => this.clock, retainDeadLetters: true });
  }

  /** A topic to pipe records into, with the serdes that turn keys and values into bytes. */
  createInputTopic<K, V>(topic: string, keySerde: Serde<K>, valueSerde: Serde<V>): TestInputTopic<K, V> {
    return new TestInputTopic(this.runtime, topic, keySerde, valueSerde, () => this.clock);
  }

  /** A topic to read what the topology wrote, with the serdes that read it back. */
  createOutputTopic<K, V>(topic: string, keySerde: Serde<K>, valueSerde: Serde<V>): TestOutputTopic<K, V> {
    return new TestOutputTopic(this.runtime, topic, keySerde, valueSerde);
  }

  /** Moves the fake wall clock on and runs wall-clock punctuation and idle detection. */
  advanceWallClock(ms: number): void {
    this.clock += ms;
    this.runtime.tick();
  }

  /** Ends a finite input: every open window closes and is emitted. */
  endOfInput(): void {
    this.runtime.endOfInput();
  }

  /** The value of a counter (`late-records`, `dead-letter-records`, ...), 0 when never counted. */
  metric(name: string): number {
    return this.runtime.metrics.get(name) ?? 0;
  }

  /** Every record that failed deserialization or the event-time guard, in order. */
  get deadLetters(): readonly DeadLetterContext[] {
    return this.runtime.deadLetters;
  }

  /** The stream time of the task reading a partition of a topic. */
  streamTimeOf(topic: string, partition: number): number {
    return this.runtime.taskFor(topic, partition).streamTime;
  }

  /** Commits every task's external sinks, as a runtime does before committing offsets. */
  async commit(): Promise<void> {
    await this.runtime.commit();
  }

  /** Closes every task: processors, sinks and stores. */
  async close(): Promise<void> {
    await this.runtime.close();
  }
}

export class TestInputTopic<K, V> {
  private readonly runtime: InProcessRuntime;
  private readonly topic: string;
  private readonly keySerde: Serde<K>;
  private readonly valueSerde: Serde<V>;
  private readonly clock: () => number;

  constructor(runtime: InProcessRuntime, topic: string, keySerde: Serde<K>, valueSerde: Serde<V>, clock: () => number) {
    this.runtime = runtime;
    this.topic = topic;
    this.keySerde = keySerde;
    this.valueSerde = valueSerde;
    this.clock = clock;
  }

  private toRaw(key: K, value: V, options: PipeOptions): [number, RawRecord] {
    const k = this.keySerde.serialize(key);
    const partition = options.partition ?? partitionFor(k, this.runtime.partitionsOf(this.topic));
    const raw: RawRecord = {
      key: k,
      value: this.valueSerde.serialize(value),
      timestamp: options.timestamp ?? this.clock(),
      offset: this.runtime.nextOffset(this.topic, partition),
      ...(options.headers === undefined ? {} : { headers: options.headers }),
    };
    return [partition, raw];
  }

  /** Throws a `RetailStreamsError` when the deserialization exception handler answers `fail`. */
  pipeInput(key: K, value: V, options: PipeOptions = {}): void {
    const [partition, raw] = this.toRaw(key, value, options);
    this.runtime.processBatch(this.topic, partition, [raw]);
  }

  /** Several records, processed as one batch per partition (in the given order within each). */
  pipeBatch(records: readonly { key: K; value: V; options?: PipeOptions }[]): void {
    const byPartition = new Map<number, RawRecord[]>();
    for (const r of records) {
      const [p, raw] = this.toRaw(r.key, r.value, r.options ?? {});
      let list = byPartition.get(p);
      if (list === undefined) byPartition.set(p, (list = []));
      list.push(raw);
    }
    for (const [p, list] of [...byPartition].sort((a, b) => a[0] - b[0])) this.runtime.processBatch(this.topic, p, list);
  }
}

export class TestOutputTopic<K, V> {
  private readonly runtime: InProcessRuntime;
  private readonly topic: string;
  private readonly keySerde: Serde<K>;
  private readonly valueSerde: Serde<V>;

  constructor(runtime: InProcessRuntime, topic: string, keySerde: Serde<K>, valueSerde: Serde<V>) {
    this.runtime = runtime;
    this.topic = topic;
    this.keySerde = keySerde;
    this.valueSerde = valueSerde;
  }

  readRecordsToList(): TestOutputRecord<K, V>[] {
    return this.runtime.readOutput(this.topic).map((r) => {
      const out = { key: this.keySerde.deserialize(r.key), value: this.valueSerde.deserialize(r.value), timestamp: r.timestamp, partition: r.partition };
      return r.headers === undefined ? out : { ...out, headers: r.headers };
    });
  }

  readKeyValuesToList(): [K, V][] {
    return this.readRecordsToList().map((r) => [r.key, r.value]);
  }

  readValuesToList(): V[] {
    return this.readRecordsToList().map((r) => r.value);
  }
}
