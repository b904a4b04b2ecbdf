/**
 * A stream thread in a worker, as the instance sees it: the same start/stop life and events as
 * an in-process StreamThread, so KafkaStreams runs N of them alike. Its counters arrive as
 * snapshots (every 500 ms, and last at stop); its log lines through the instance's logger.
 */
import { Worker } from 'node:worker_threads';
import { RetailStreamsError } from '../../../api/errors.ts';
import type { Logger } from '../../../api/log.ts';
import type { StreamThreadEvents } from '../stream-thread.ts';
import type { SerializedError, ToInstance, ToWorker, WorkerData } from './messages.ts';

// From the sources the entry is .ts (Node strips the types); in the published dist/ it is .js.
const ENTRY = new URL(import.meta.url.endsWith('.ts') ? './worker-main.ts' : './worker-main.js', import.meta.url);

const revive = (e: SerializedError): Error => {
  const error = e.code === undefined ? new Error(e.message) : new RetailStreamsError(e.code, e.message);
  if (e.stack !== undefined) error.stack = e.stack;
  return error;
};

export class WorkerStreamThread {
  private readonly data: WorkerData;
  private readonly log: Logger;
  private readonly events: StreamThreadEvents;
  private readonly onMetrics: (entries: ReadonlyMap<string, number>) => void;
  private worker: Worker | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopped: Promise<void> | undefined;
  private resolveStopped: (() => void) | undefined;

  constructor(data: WorkerData, log: Logger, events: StreamThreadEvents, onMetrics: (entries: ReadonlyMap<string, number>) => void) {
    this.data = data;
    this.log = log;
    this.events = events;
    this.onMetrics = onMetrics;
  }

  /** Resolves once the worker's thread has joined the group (as StreamThread.start does). */
  start(): Promise<void> {
    const prefix = `[thread-${this.data.threadIndex}] `;
    const worker = new Worker(ENTRY, { workerData: this.data, name: `stream-thread-${this.data.threadIndex}` });
    this.worker = worker;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      this.exited = new Promise<void>((done) => {
        worker.once('exit', (code) => {
          this.worker = undefined;
          this.resolveStopped?.();
          if (!settled) {
            settled = true;
            reject(new RetailStreamsError('invalid-argument', `stream thread ${this.data.threadIndex} exited (code ${code}) before it started`));
          } else if (this.stopped === undefined) this.events.failed(new Error(`stream thread ${this.data.threadIndex} exited unexpectedly (code ${code})`));
          done();
        });
      });
      worker.on('error', (e) => {
        // An uncaught error inside the worker: it is gone, as a thread that died would be.
        if (!settled) {
          settled = true;
          reject(e);
        } else this.events.failed(e);
      });
      worker.on('message', (m: ToInstance) => {
        switch (m.type) {
          case 'log':
            this.log[m.level](prefix + m.message);
            break;
          case 'rebalancing':
            this.events.rebalancing();
            break;
          case 'running':
            this.events.running();
            break;
          case 'observe':
            this.events.observe?.(m.metric, m.ms);
            break;
          case 'metrics':
            this.onMetrics(new Map(m.entries));
            break;
          case 'failed':
            this.events.failed(revive(m.error));
            break;
          case 'started':
            settled = true;
            resolve();
            break;
          case 'start-failed':
            settled = true;
            reject(revive(m.error));
            break;
          case 'stopped':
            this.resolveStopped?.();
            break;
        }
      });
    });
  }

  /** Finishes the batch in hand, commits, leaves the group, and ends the worker. Safe to call twice. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      const worker = this.worker;
      if (worker === undefined) return;
      const done = new Promise<void>((r) => (this.resolveStopped = r));
      worker.postMessage({ type: 'stop' } satisfies ToWorker);
      await done;
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, 5_000).unref())]);
      if (this.worker !== undefined) await this.worker.terminate();
    })();
    return this.stopped;
  }
}
