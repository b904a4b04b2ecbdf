/**
 * What a stream thread in a worker and the instance that started it say to each other: the
 * structured-clone messages of worker-thread.ts (the instance's side) and worker-main.ts (the
 * worker's). Functions cannot cross, so the worker builds its own topology from a module and
 * its own config from the serializable part of the instance's; its logger, state changes,
 * latencies and counters come back as messages.
 */
import type { ErrorCode } from '../../../api/errors.ts';
import type { LogLevel } from '../../../api/log.ts';
import type { KafkaStreamsConfig } from '../config.ts';

/** A module whose export, called with `data`, returns the Topology (or a promise of it). */
export interface TopologySource {
  /** The module's URL (topology-source.ts makes a path one). */
  readonly module: string;
  /** The export to call; default `default`. */
  readonly export: string;
  /** Passed to the export in every thread: structured-cloneable (plain data, no functions). */
  readonly data: unknown;
}

/** The config fields a worker gets as they are: everything but the functions. */
export type WorkerConfig = Omit<KafkaStreamsConfig, 'logger' | 'clock' | 'client' | 'deserializationExceptionHandler' | 'productionExceptionHandler'> & {
  readonly client?: 'kafkajs' | 'platformatic';
  readonly deserializationExceptionHandler?: 'log-and-fail' | 'log-and-continue';
  readonly productionExceptionHandler?: 'fail' | 'continue';
};

export interface WorkerData {
  readonly source: TopologySource;
  readonly config: WorkerConfig;
  readonly threadIndex: number;
  readonly processId: string;
}

export interface SerializedError {
  readonly message: string;
  readonly code?: ErrorCode;
  readonly stack?: string;
}

export type ToInstance =
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string }
  | { readonly type: 'rebalancing' }
  | { readonly type: 'running' }
  | { readonly type: 'failed'; readonly error: SerializedError }
  | { readonly type: 'observe'; readonly metric: 'process-latency-ms' | 'commit-latency-ms'; readonly ms: number }
  | { readonly type: 'metrics'; readonly entries: readonly (readonly [string, number])[] }
  | { readonly type: 'started' }
  | { readonly type: 'start-failed'; readonly error: SerializedError }
  | { readonly type: 'stopped' };

export type ToWorker = { readonly type: 'stop' };
