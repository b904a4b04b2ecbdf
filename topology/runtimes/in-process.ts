import { RetailStreamsError } from '../api/errors.ts';
import { decide, deadLetterHeaders, type DeadLetterContext, type DeserializationHandler } from '../api/handlers.ts';
import type { Logger } from '../api/log.ts';
import type { RecordOrigin } from '../api/record.ts';
import type { ExternalSink, ExternalSinkFactory } from '../api/sink.ts';
import type { Topology } from '../internals/compile.ts';
import { partitionFor } from '../internals/partitioner.ts';
import { DEAD_LETTER_RECORDS, FUTURE_TIMESTAMP, StreamTask, type RawRecord, type TaskEnv } from '../internals/task.ts';
import { DEFAULT_MAX_FUTURE_MS } from './kafka/config.ts';

export interface InProcessOptions {
  /** Partition counts of input and output topics; others default to `defaultPartitions`. */
  readonly partitions?: Readonly<Record<string, number>>;
  readonly defaultPartitions?: number;
  readonly idleMs?: number;
  /** Wall clock source: the test driver passes a fake one. */
  readonly wallClock?: () => number;
  /** Event time more than this ahead of the wall clock is dead-lettered as `future-timestamp`; default 1 hour, `Infinity` turns the guard off. */
  readonly maxFutureMs?: number;
  /** What to do with a record a source cannot deserialize; default `log-and-fail`, as in Kafka Streams' TopologyTestDriver. */
  readonly deserializationExceptionHandler?: DeserializationHandler;
  /** An output topic that receives every dead letter: key and value as read, reason and origin in `deadLetterHeaders`. */
  readonly deadLetterQueueTopic?: string;
  /** Dead letters to a sink outside Kafka (replay's files): one sink per task, committed with the task's own sinks. */
  readonly deadLetterSink?: ExternalSinkFactory<Uint8Array | null, DeadLetterContext>;
  /** Keeps every dead letter in `deadLetters` (the test driver); off for a replay, whose input has no end in size. */
  readonly retainDeadLetters?: boolean;
  /** Dead letters are logged here as warnings; none by default (the driver and replay keep stderr for the user). */
  readonly log?: Logger;
}

export interface TopicRecord extends RawRecord {
  readonly topic: string;
  readonly partition: number;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const where = (o: RecordOrigin): string => `${o.topic}[${o.partition}]@${o.offset}`;

/**
 * Runs a whole topology in this thread with in-memory topics: the engine of the test driver
 * and of file replay. Records written to repartition topics are routed to their downstream
 * task at once, in order, so a run is deterministic.
 */
export class InProcessRuntime {
  readonly topology: Topology;
  private readonly partitionCounts = new Map<string, number>();
  private readonly tasks = new Map<string, StreamTask>();
  /** Output topics: every record written, per topic, in write order. */
  private readonly outputs = new Map<string, TopicRecord[]>();
  private readonly internalQueue: TopicRecord[] = [];
  private readonly offsets = new Map<string, number>();
  readonly metrics = new Map<string, number>();
  /** Every dead letter, in order, when `retainDeadLetters` is set. */
  readonly deadLetters: DeadLetterContext[] = [];
  /** Sinks of `deadLetterSink`, by task id, made on a task's first dead letter. */
  private readonly deadLetterSinks = new Map<string, ExternalSink<Uint8Array | null, DeadLetterContext>>();
  private readonly env: TaskEnv;

  constructor(topology: Topology, options: InProcessOptions = {}) {
    this.topology = topology;
    const defaults = options.defaultPartitions ?? 1;
    const given = options.partitions ?? {};
    const countOf = (topic: string): number => {
      const known = this.partitionCounts.get(topic);
      if (known !== undefined) return known;
      let n = given[topic];
      if (n === undefined && topology.internalTopics.has(topic)) {
        // Like Kafka Streams: a repartition topic gets as many partitions as the topics feeding its writer.
        const writer = topology.subtopologies.find((s) => s.sinkTopics.includes(topic))!;
        n = Math.max(...writer.sourceTopics.map(countOf));
      }
      n ??= defaults;
      this.partitionCounts.set(topic, n);
      return n;
    };
    const clock = options.wallClock ?? Date.now;
    const handler = options.deserializationExceptionHandler ?? 'log-and-fail';
    const dlqTopic = options.deadLetterQueueTopic;
    const sinkFactory = options.deadLetterSink;
    const retain = options.retainDeadLetters === true;
    const log = options.log;
    this.env = {
      idleMs: options.idleMs ?? 30_000,
      maxFutureMs: options.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS,
      wallClock: clock,
      partitionsOf: countOf,
      send: (topic, partition, key, value, timestamp, headers) => {
        const offsetKey = `${topic}/${partition}`;
        const offset = this.offsets.get(offsetKey) ?? 0;
        this.offsets.set(offsetKey, offset + 1);
        const rec: TopicRecord = headers === undefined ? { topic, partition, key, value, timestamp, offset } : { topic, partition, key, value, timestamp, offset, headers };
        if (topology.internalTopics.has(topic)) this.internalQueue.push(rec);
        else {
          let list = this.outputs.get(topic);
          if (list === undefined) this.outputs.set(topic, (list = []));
          list.push(rec);
        }
      },
      count: (metric, n) => this.metrics.set(metric, (this.metrics.get(metric) ?? 0) + n),
      // Rare (invalid records only): allocations here cost nothing on the hot path.
      deadLetter: (c) => {
        if (retain) this.deadLetters.push(c);
        this.env.count(DEAD_LETTER_RECORDS, 1);
        // Written before the handler decides, as Kafka Streams does: a failing run keeps the record.
        if (dlqTopic !== undefined) this.env.send(dlqTopic, partitionFor(c.key, countOf(dlqTopic)), c.key, c.value, c.timestamp, deadLetterHeaders(c));
        if (sinkFactory !== undefined) this.deadLetterSinkOf(c.origin, sinkFactory).write({ key: c.key, value: c, timestamp: c.timestamp });
        log?.warn(`dead letter at ${where(c.origin)} (${c.reason}): ${messageOf(c.error)}`);
        // A record from the future is data the guard refuses, not a serde failure: never fatal.
        if (c.reason !== FUTURE_TIMESTAMP && decide(handler, c) === 'fail')
          throw new RetailStreamsError('fatal', `cannot deserialize the record at ${where(c.origin)} (${c.reason}): ${messageOf(c.error)}; the deserialization exception handler answered fail`, {
            cause: c.error,
          });
      },
    };
    for (const sub of topology.subtopologies) {
      const n = Math.max(...sub.sourceTopics.map(countOf));
      for (let p = 0; p < n; p++) {
        const task = new StreamTask(topology, sub, p, this.env);
        this.tasks.set(task.id, task);
      }
    }
  }

  partitionsOf(topic: string): number {
    return this.env.partitionsOf(topic);
  }

  /** The dead-letter sink of the task that read `origin`, as if the task owned it: its files bear the task's id. */
  private deadLetterSinkOf(origin: RecordOrigin, factory: ExternalSinkFactory<Uint8Array | null, DeadLetterContext>): ExternalSink<Uint8Array | null, DeadLetterContext> {
    const taskId = this.taskFor(origin.topic, origin.partition).id;
    let sink = this.deadLetterSinks.get(taskId);
    if (sink === undefined) this.deadLetterSinks.set(taskId, (sink = factory(taskId)));
    return sink;
  }

  taskFor(topic: string, partition: number): StreamTask {
    const sub = this.topology.subtopologyOf(topic);
    if (sub === undefined) throw new Error(`no source reads topic ${topic}`);
    const task = this.tasks.get(`${sub.id}_${partition}`);
    if (task === undefined) throw new Error(`topic ${topic} has no partition ${partition}`);
    return task;
  }

  /**
   * Feeds a batch to the task of one input partition, flushes it (the end of a batch, as a
   * Kafka poll would be) and delivers whatever reached repartition topics downstream.
   */
  processBatch(topic: string, partition: number, records: readonly RawRecord[]): void {
    const task = this.taskFor(topic, partition);
    task.processBatch(topic, records);
    task.flush();
    this.drainInternal();
  }

  /** Offset to give the next record piped into an input partition. */
  nextOffset(topic: string, partition: number): number {
    const key = `in:${topic}/${partition}`;
    const o = this.offsets.get(key) ?? 0;
    this.offsets.set(key, o + 1);
    return o;
  }

  private drainInternal(): void {
    // Records of one upstream flush are delivered as one batch per downstream task, in order.
    while (this.internalQueue.length > 0) {
      const batch = this.internalQueue.splice(0, this.internalQueue.length);
      const byTask = new Map<StreamTask, { topic: string; records: RawRecord[] }[]>();
      for (const r of batch) {
        const task = this.taskFor(r.topic, r.partition);
        let groups = byTask.get(task);
        if (groups === undefined) byTask.set(task, (groups = []));
        const last = groups[groups.length - 1];
        if (last !== undefined && last.topic === r.topic) last.records.push(r);
        else groups.push({ topic: r.topic, records: [r] });
      }
      for (const [task, groups] of byTask) {
        for (const g of groups) task.processBatch(g.topic, g.records);
        task.flush();
      }
    }
  }

  /** Wall-clock punctuation and idle detection for every task. */
  tick(): void {
    for (const task of this.tasks.values()) {
      task.tick();
      task.flush();
    }
    this.drainInternal();
  }

  /** The input is finite and has ended: close every window, upstream tasks first. */
  endOfInput(): void {
    for (const sub of this.topology.subtopologies) {
      for (const task of this.tasks.values()) {
        if (task.subtopology !== sub) continue;
        task.endOfInput();
        this.drainInternal();
      }
    }
  }

  async commit(): Promise<void> {
    for (const task of this.tasks.values()) await task.commitSinks();
    for (const sink of this.deadLetterSinks.values()) await sink.commit();
  }

  /** Removes and returns what was written to an output topic since the last read. */
  readOutput(topic: string): TopicRecord[] {
    const list = this.outputs.get(topic) ?? [];
    this.outputs.set(topic, []);
    return list;
  }

  allTasks(): StreamTask[] {
    return [...this.tasks.values()];
  }

  async close(): Promise<void> {
    for (const task of this.tasks.values()) await task.close();
    for (const sink of this.deadLetterSinks.values()) await sink.close();
  }
}
