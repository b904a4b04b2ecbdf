/**
 * The entry of a stream thread in a worker (worker-thread.ts starts it): builds the topology
 * from its module, runs one StreamThread (a member of the group with its own consumer, tasks
 * and, under exactly-once, its own transactional producer) and reports to the instance.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RetailStreamsError } from '../../../api/errors.ts';
import type { Logger } from '../../../api/log.ts';
import { clientFactory } from '../client/select.ts';
import { resolveConfig } from '../config.ts';
import { StreamThread } from '../stream-thread.ts';
import type { SerializedError, ToInstance, ToWorker, WorkerData } from './messages.ts';
import { buildTopology } from './topology-source.ts';

const port = parentPort!;
const data = workerData as WorkerData;
const post = (m: ToInstance) => port.postMessage(m);
const serialize = (e: unknown): SerializedError => {
  const error = e instanceof Error ? e : new Error(String(e));
  return { message: error.message, ...(error instanceof RetailStreamsError ? { code: error.code } : {}), ...(error.stack === undefined ? {} : { stack: error.stack }) };
};

const log: Logger = {
  debug: (message) => post({ type: 'log', level: 'debug', message }),
  info: (message) => post({ type: 'log', level: 'info', message }),
  warn: (message) => post({ type: 'log', level: 'warn', message }),
  error: (message) => post({ type: 'log', level: 'error', message }),
};

/** Counters of this thread, sent whole: the instance sums its threads' snapshots. */
const counters = new Map<string, number>();
const sendMetrics = () => post({ type: 'metrics', entries: [...counters] });

let thread: StreamThread | undefined;
let metricsTimer: NodeJS.Timeout | undefined;

async function start(): Promise<void> {
  const topology = await buildTopology(data.source);
  const config = { ...resolveConfig(data.config, log), threadIndex: data.threadIndex, processId: data.processId };
  const t = new StreamThread(topology, config, await clientFactory(data.config.client), counters, {
    rebalancing: () => post({ type: 'rebalancing' }),
    running: () => post({ type: 'running' }),
    failed: (error) => {
      sendMetrics();
      post({ type: 'failed', error: serialize(error) });
    },
    observe: (metric, ms) => post({ type: 'observe', metric, ms }),
  });
  thread = t;
  // A stop asked for during the start waits for it, so the consumer made by start() leaves the group.
  await t.start();
  metricsTimer = setInterval(sendMetrics, 500);
  metricsTimer.unref();
}

const starting = start().then(
  () => post({ type: 'started' }),
  async (e: unknown) => {
    await thread?.stop().catch(() => {});
    post({ type: 'start-failed', error: serialize(e) });
  },
);

port.on('message', (m: ToWorker) => {
  if (m.type !== 'stop') return;
  void (async () => {
    await starting;
    clearInterval(metricsTimer);
    await thread?.stop().catch((e: unknown) => log.error(`stopping: ${(e as Error).message}`));
    sendMetrics();
    post({ type: 'stopped' });
    port.close();
  })();
});
