import type { RecordOrigin, StreamRecord } from './record.ts';
import type { StateStore } from '../../state-stores/api.ts';

export type PunctuationType = 'stream-time' | 'wall-clock';

export interface Cancellable {
  cancel(): void;
}

/** What a processor can see and do. One context per processor per task. */
export interface ProcessorContext<KOut, VOut> {
  /** `<subtopology>_<partition>`, stable across processes. */
  readonly taskId: string;
  readonly partition: number;
  /** Sends a record to every child, or to the named child only. */
  forward(record: StreamRecord<KOut, VOut>, childName?: string): void;
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
  init?(context: ProcessorContext<KOut, VOut>): void;
  process(record: StreamRecord<KIn, VIn>): void;
  /**
   * Called before the task commits and at the end of each batch: a processor that buffers
   * (pre-aggregation, caches) forwards what it holds here, so the commit covers it.
   */
  flush?(): void;
  close?(): void;
}

export type ProcessorSupplier<KIn, VIn, KOut, VOut> = () => Processor<KIn, VIn, KOut, VOut>;
