// A child process for the large-state test: counts distinct keys of a topic with KafkaStreams,
// the count store pinned to RocksDB or to memory (`Materialized.storeType`), in whatever heap it
// was started with (`node --max-old-space-size=256 ...`).
//
//   node --max-old-space-size=256 test/support/large-state-runner.ts '{"bootstrap":["127.0.0.1:9092"],
//     "input":"keys","output":"key-counts","applicationId":"big","stateDir":"/tmp/s","storeType":"rocksdb",
//     "records":5500000,"sampleEvery":50000}'
//
// It reports on stdout, one JSON object per line: {"event":"progress","processed":n,"heapMiB":h,
// "rssMiB":r} every second; once `records` are processed it closes KafkaStreams (a commit, the
// stores flushed and closed), then for a RocksDB store reads the state its tasks left on disk:
// {"event":"state","entries":n,"total":t,"samples":{key:count}}; last {"event":"done","hwmMiB":m}.
// Output topic: the counts of sampled keys (index % sampleEvery === 0), so the test reads few.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { KafkaStreams, Serdes, Stores, StreamsBuilder } from '../../index.ts';
import type { Topology } from '../../index.ts';
import { kafkajsClient } from '../../topology/runtimes/kafka/client/kafkajs.ts';
import type { KafkaClientFactory } from '../../topology/runtimes/kafka/client/port.ts';

export interface LargeStateArgs {
  readonly bootstrap: readonly string[];
  readonly input: string;
  readonly output: string;
  readonly applicationId: string;
  readonly stateDir: string;
  readonly storeType: 'rocksdb' | 'memory';
  readonly records: number;
  readonly sampleEvery: number;
}

export const COUNT_STORE = 'key-counts-store';
export const keyOf = (i: number): string => `k${String(i).padStart(8, '0')}`;
const indexOf = (key: string): number => Number(key.slice(1));

export function largeStateTopology(a: Pick<LargeStateArgs, 'input' | 'output' | 'storeType' | 'sampleEvery'>): Topology {
  const b = new StreamsBuilder();
  b.stream<string | null, string | null>(a.input, { keySerde: Serdes.string, valueSerde: Serdes.string })
    .groupByKey()
    // Logged, as a Kafka Streams user runs it: with every key distinct a commit's changelog is
    // about one record per input record, sent in chunks below the broker's request limit
    // (send-chunks.ts).
    .count({ storeName: COUNT_STORE, storeType: a.storeType })
    .toStream()
    .filter((key) => key !== null && indexOf(key) % a.sampleEvery === 0)
    .to(a.output, { keySerde: Serdes.string, valueSerde: Serdes.json<number>() });
  return b.build();
}

/**
 * kafkajs with fetches of 1 MiB a partition. The runtime asks for 8 MiB a partition (32 MiB in
 * all), sized for throughput on invoices of ~400 bytes; of this test's 20-byte records that is
 * ~400,000 a partition per fetch, decoded at once into kafkajs message objects of a few hundred
 * bytes each: more than a 256 MiB heap, whatever the store. (Kafka Streams bounds a poll by
 * records, `max.poll.records` = 1000, not only by bytes.)
 */
const smallFetches: KafkaClientFactory = (options) => {
  const kafka = kafkajsClient(options);
  return { ...kafka, consumer: (config) => kafka.consumer({ ...config, maxBytesPerPartition: 1024 * 1024, maxBytes: 2 * 1024 * 1024 }) };
};

const say = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(event)}\n`);

/** A line of /proc/self/status (VmRSS, VmHWM), in MiB. */
async function statusMiB(field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8');
  const kib = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return Math.round(kib / 1024);
}

/** What the tasks left on disk: every task's count store, read back with the DSL store's codecs. */
async function stateOnDisk(a: LargeStateArgs): Promise<{ entries: number; total: number; samples: Record<string, number> }> {
  let entries = 0;
  let total = 0;
  const samples: Record<string, number> = {};
  const appDir = join(a.stateDir, a.applicationId);
  for (const task of await readdir(appDir)) {
    const directory = join(appDir, task, COUNT_STORE);
    if (!existsSync(directory)) continue;
    const store = Stores.persistentKeyValueStore<string, number>(COUNT_STORE).build({ directory });
    await store.open();
    try {
      for (const [key, count] of store.all()) {
        entries++;
        total += count;
        if (indexOf(key) % a.sampleEvery === 0) samples[key] = count;
      }
    } finally {
      await store.close();
    }
  }
  return { entries, total, samples };
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2] ?? '{}') as LargeStateArgs;
  const streams = new KafkaStreams(largeStateTopology(a), {
    applicationId: a.applicationId,
    bootstrapServers: a.bootstrap,
    stateDir: a.stateDir,
    outputTopics: [{ name: a.output, partitions: 1 }],
    client: smallFetches,
  });
  // A failed run ends the process: the test reads what it said.
  void streams.failure().then((error) => {
    say({ event: 'error', message: error.message });
    process.exit(1);
  });
  await streams.start();
  const processed = () => streams.metrics().get('records-processed') ?? 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      void statusMiB('VmRSS').then((rssMiB) => say({ event: 'progress', processed: processed(), heapMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20), rssMiB }));
      if (processed() >= a.records) {
        clearInterval(timer);
        resolve();
      }
    }, 1000);
  });
  await streams.close();
  if (a.storeType === 'rocksdb') say({ event: 'state', ...(await stateOnDisk(a)) });
  say({ event: 'done', processed: processed(), hwmMiB: await statusMiB('VmHWM') });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    say({ event: 'error', message: (e as Error).stack ?? String(e) });
    process.exit(1);
  });
}
