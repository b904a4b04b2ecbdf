// What the Kafka runtime tests share: a logger that keeps its lines, commit hooks that record
// what a committer told them, and tasks made the way the runtime makes them (TaskManager), on
// a FakeBroker, with a state folder of their own.
import { spreadAssigner } from '../../../topology/runtimes/kafka/client/spread-assigner.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoreKind } from '../../../state-stores/stores.ts';
import type { Topology } from '../../../topology/internals/compile.ts';
import { StreamsBuilder } from '../../../topology/api/builder.ts';
import { Serdes, type Serde } from '../../../topology/api/serdes.ts';
import type { Logger } from '../../../topology/api/log.ts';
import type { RawRecord } from '../../../topology/internals/task.ts';
import type { ActiveTask, OffsetToCommit } from '../../../topology/runtimes/kafka/active-task.ts';
import type { CommitHooks } from '../../../topology/runtimes/kafka/committer.ts';
import { resolveConfig, type Guarantee } from '../../../topology/runtimes/kafka/config.ts';
import { TaskManager } from '../../../topology/runtimes/kafka/task-manager.ts';
import { TopicNames } from '../../../topology/runtimes/kafka/topics.ts';
import type { FakeBroker } from '../../support/fake-kafka.ts';

export function memoryLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log: Logger = {
    debug: (m) => lines.push(`debug ${m}`),
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
  return { log, lines };
}

export function recordingHooks(): { hooks: CommitHooks; events: string[]; committed: OffsetToCommit[][]; metrics: Map<string, number> } {
  const events: string[] = [];
  const committed: OffsetToCommit[][] = [];
  const metrics = new Map<string, number>();
  const hooks: CommitHooks = {
    fenced: async (t) => void events.push(`fenced ${t.id}`),
    corrupted: async (t, reason) => void events.push(`corrupted ${t.id}: ${reason}`),
    committed: (offsets) => void committed.push([...offsets]),
    checkpoint: async (tasks) => void events.push(`checkpoint ${tasks.map((t) => t.id).join(',')}`),
    count: (metric, n) => void metrics.set(metric, (metrics.get(metric) ?? 0) + n),
  };
  return { hooks, events, committed, metrics };
}

export interface TaskSetup {
  readonly tasks: TaskManager;
  readonly kafka: ReturnType<FakeBroker['kafka']>;
  readonly consumer: ReturnType<ReturnType<FakeBroker['kafka']>['consumer']>;
  readonly log: Logger;
  readonly lines: string[];
}

export const tempStateDir = (): string => mkdtempSync(join(tmpdir(), 'rs-unit-state-'));

export interface TaskSetupOptions {
  readonly applicationId?: string;
  readonly guarantee?: Guarantee;
  readonly partitions: Record<string, number>;
  readonly clock?: () => number;
  /** Default: a fresh temporary folder. */
  readonly stateDir?: string;
  readonly defaultStore?: StoreKind;
  /** Where gauges and counters land. */
  readonly metrics?: Map<string, number>;
}

/** A TaskManager on the fake broker; `partitions` gives every topic's partition count by logical name (created on the broker too). */
export function taskSetup(broker: FakeBroker, topology: Topology, o: TaskSetupOptions): TaskSetup {
  const applicationId = o.applicationId ?? 'app';
  const { log, lines } = memoryLog();
  const config = resolveConfig(
    {
      applicationId,
      bootstrapServers: 'fake:9092',
      processingGuarantee: o.guarantee ?? 'at-least-once',
      logger: log,
      stateDir: o.stateDir ?? tempStateDir(),
      defaultStore: o.defaultStore ?? 'memory',
      ...(o.clock === undefined ? {} : { clock: o.clock }),
    },
    log,
  );
  const metrics = o.metrics ?? new Map<string, number>();
  const names = new TopicNames(applicationId, topology);
  for (const [topic, n] of Object.entries(o.partitions)) broker.createTopic(names.kafka(topic), n);
  const kafka = broker.kafka();
  const consumer = kafka.consumer({ groupId: applicationId, assigner: spreadAssigner });
  const tasks = new TaskManager({
    kafka,
    perTaskProducers: config.guarantee === 'exactly-once',
    admin: kafka.admin(),
    consumer: () => consumer,
    topology,
    names,
    config,
    partitionCounts: new Map(Object.entries(o.partitions)),
    count: (metric, n) => void metrics.set(metric, (metrics.get(metric) ?? 0) + n),
    gauge: (metric, value) => void (value === undefined ? metrics.delete(metric) : metrics.set(metric, value)),
    deadLetter: () => {},
    forgotten: () => {},
  });
  return { tasks, kafka, consumer, log, lines };
}

const encoder = new TextEncoder();

/** Raw input records as a consumer would hand them over: text key and value, offsets from `firstOffset`. */
export const raw = (records: readonly { key: string; value: string; timestamp: number }[], firstOffset = 0): RawRecord[] =>
  records.map((r, i) => ({ key: encoder.encode(r.key), value: encoder.encode(r.value), timestamp: r.timestamp, offset: firstOffset + i }));

/** Feeds a batch to a task as the stream thread does: process, then flush. */
export function feed(t: ActiveTask, topic: string, records: readonly RawRecord[]): void {
  t.task.processBatch(topic, records);
  t.task.flush();
}

/** Text of a record key or value. */
export const text = (b: Buffer | string | null | undefined): string | null => (b === null || b === undefined ? null : b.toString());

const str = Serdes.string as Serde<string>;

/** The Kafka runtime tests' topology: `in` -> count per key in store `counts` -> `out` (JSON counts). */
export function counting(): Topology {
  const b = new StreamsBuilder();
  b.stream<string, string>('in', { keySerde: str, valueSerde: str })
    .groupByKey()
    .count({ storeName: 'counts' })
    .toStream()
    .to('out', { keySerde: str, valueSerde: Serdes.json<number>() });
  return b.build();
}
