// A child process of bench/state.ts: counts records per key with the library's KafkaStreams, the
// count store in RocksDB or in memory, and reports on stdout one JSON object a line:
// {"event":"progress","processed":n,"metrics":{...}} every second, and, when `records` is set,
// {"event":"done","processed":n,"hwmMiB":m} once that many records are processed (then it closes
// KafkaStreams and exits 0). The library's own log (restore lines, task starts, joins) goes to
// stderr. SIGTERM closes it cleanly.
//
//   node [--max-old-space-size=256] bench/support/state-runner.ts '{"bootstrap":["127.0.0.1:9092"],
//     "input":"keys","output":"counts","applicationId":"g","stateDir":"/tmp/s","storeType":"rocksdb"}'
//
// Its main consumer fetches little a partition (`fetchKiB`): records of ~20 bytes at the runtime's
// default 8 MiB a partition would make one commit's changelog send exceed the broker's
// message.max.bytes, and would not fit a 256 MiB heap whatever the store.
import { readFileSync } from 'node:fs';
import { KafkaStreams, Serdes, StreamsBuilder } from '../../index.ts';
import { kafkajsClient } from '../../topology/runtimes/kafka/client/kafkajs.ts';
import type { KafkaClientFactory } from '../../topology/runtimes/kafka/client/port.ts';

export interface StateRunnerArgs {
  readonly bootstrap: readonly string[];
  readonly input: string;
  readonly output: string;
  readonly applicationId: string;
  readonly stateDir: string;
  readonly storeType: 'rocksdb' | 'memory';
  /** Whether the count store has a changelog (default true). */
  readonly logged?: boolean;
  readonly standbys?: number;
  readonly sessionTimeoutMs?: number;
  /** Fetch size a partition of the main consumer, KiB (default 256). */
  readonly fetchKiB?: number;
  /** Stop once this many records are processed. */
  readonly records?: number;
}

const say = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(event)}\n`);
const hwmMiB = (): number => Math.round(Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? Number.NaN) / 1024);

const a = JSON.parse(process.argv[2] ?? '{}') as StateRunnerArgs;
const b = new StreamsBuilder();
b.stream<string | null, string | null>(a.input, { keySerde: Serdes.string, valueSerde: Serdes.string })
  .groupByKey()
  .count({ storeName: 'counts', storeType: a.storeType, logged: a.logged ?? true })
  .toStream()
  .filter((key) => key !== null && key.endsWith('00000'))
  .to(a.output, { keySerde: Serdes.string, valueSerde: Serdes.json<number>() });
const fetch = (a.fetchKiB ?? 256) * 1024;
const client: KafkaClientFactory = (o) => {
  const kafka = kafkajsClient(o);
  return { ...kafka, consumer: (c) => kafka.consumer(c.groupId === a.applicationId ? { ...c, maxBytesPerPartition: fetch, maxBytes: 4 * fetch } : c) };
};
const streams = new KafkaStreams(b.build(), {
  applicationId: a.applicationId,
  bootstrapServers: a.bootstrap,
  stateDir: a.stateDir,
  defaultStore: a.storeType,
  processingGuarantee: 'at-least-once',
  numStandbyReplicas: a.standbys ?? 0,
  sessionTimeoutMs: a.sessionTimeoutMs ?? 10_000,
  outputTopics: [{ name: a.output, partitions: 1 }],
  client,
});
void streams.failure().then((error) => {
  say({ event: 'error', message: error.message });
  process.exit(1);
});
await streams.start();
const processed = () => streams.metrics().get('records-processed') ?? 0;
process.once('SIGTERM', () => void streams.close().then(() => process.exit(0)));
const timer = setInterval(() => {
  say({ event: 'progress', processed: processed(), metrics: Object.fromEntries(streams.metrics()) });
  if (a.records !== undefined && processed() >= a.records) {
    clearInterval(timer);
    void streams.close().then(() => {
      say({ event: 'done', processed: processed(), hwmMiB: hwmMiB() });
      process.exit(0);
    });
  }
}, 1000);
