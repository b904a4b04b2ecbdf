import type { RecordOrigin, StreamRecord } from './record.ts';
import type { StateStore } from '../../state-stores/api.ts';

/** What drives a punctuator: the task's stream time (event time) or the wall clock. */
export type PunctuationType = 'stream-time' | 'wall-clock';

/** A scheduled punctuator; `cancel()` stops it. */
export interface Cancellable {
  /** Stops the punctuator: its callback is not called again. */
  cancel(): void;
}

/** What a processor can see and do. One context per processor per task. */
export interface ProcessorContext<KOut, VOut> {
  /** `<subtopology>_<partition>`, stable across processes. */
  readonly taskId: string;
  readonly partition: number;
  /** Sends a record to every child, or to the named child only. */
  forward(record: StreamRecord<KOut, VOut>, childName?: string): void;
  /** A store the processor was connected to (`stores` of `KStream.process`, or a DSL aggregate's store); throws for any other name. */
  getStateStore<S extends StateStore>(name: string): S;
  /**
   * Calls `callback` every `intervalMs` of stream time or wall-clock time. Stream-time
   * punctuators fire when the task's stream time advances, so they never fire on an idle task.
   */
  schedule(intervalMs: number, type: PunctuationType, callback: (time: number) => void): Cancellable;
  /**
   * The task's stream time. For a task reading an input topic it is the largest event time
   * seen on its partition; for a task reading a repartition topic it is the watermark: the
   * minimum over the upstream partitions (idle ones excepted).
   */
  streamTime(): number;
  /** The runtime's wall clock (epoch ms): the fake clock under the test driver. */
  currentWallClock(): number;
  /** Origin of the record being processed, or undefined inside a punctuator. */
  origin(): RecordOrigin | undefined;
  /** Asks the runtime to commit soon after the current batch. */
  commit(): void;
  /** Adds to a named counter the runtime reports (records late, invalid, ...). */
  count(metric: string, n?: number): void;
}

/** The processor contract: tiny on purpose, as in Kafka Streams. */
export interface Processor<KIn, VIn, KOut = never, VOut = never> {
  /** Called once when the task starts, before any record: keep the context, open stores, schedule punctuators. */
  init?(context: ProcessorContext<KOut, VOut>): void;
  /** Called for each record, in offset order per partition; forwards through the context. */
  process(record: StreamRecord<KIn, VIn>): void;
  /**
   * Called before the task commits and at the end of each batch: a processor that buffers
   * (pre-aggregation, caches) forwards what it holds here, so the commit covers it.
   */
  flush?(): void;
  /** Called when the task closes (shutdown, or its partition moved away). */
  close?(): void;
}

/** Makes a new processor: one instance per task, so a processor may keep per-partition state in its fields. */
export type ProcessorSupplier<KIn, VIn, KOut, VOut> = () => Processor<KIn, VIn, KOut, VOut>;
