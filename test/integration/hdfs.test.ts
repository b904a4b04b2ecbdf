// The HDFS sink against a real HDFS (NameNode + DataNode, WebHDFS) and a real broker: the KPI
// files equal the reference, a kill -9 between a temp file's write and its rename loses and
// doubles nothing, and an HDFS outage mid-stream loses nothing.
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafka, type KafkaCluster } from '../support/kafka.ts';
import { startHdfs, type Hdfs } from '../support/hdfs.ts';
import { runCli, startCli, type CliProcess } from '../support/cli.ts';
import { readTopic } from '../support/topic-reader.ts';
import { parseFeedLine, referenceKpis, type RefInput } from '../support/reference.ts';
import { WebHdfsError, WebHdfsFileStore } from '../../sinks/webhdfs-store.ts';
import { eventually } from '../support/kpi-check.ts';

const WINDOW = 60_000;
const GRACE = 120_000;
const START = Date.UTC(2020, 8, 18, 10, 0, 0);

let kafka: KafkaCluster;
let hdfs: Hdfs;
let brokers: string;

beforeAll(async () => {
  [kafka, hdfs] = await Promise.all([startKafka(), startHdfs()]);
  brokers = kafka.bootstrap.join(',');
});
afterAll(async () => {
  await Promise.all([kafka?.stop(), hdfs?.stop()]);
});

const sinkUrl = (base: string) => `${hdfs.webhdfs.replace('http://', 'hdfs://')}/${base}`;

interface HdfsFile {
  readonly path: string;
  readonly name: string;
}

/** Every file under a folder on HDFS (LISTSTATUS, recursively); none when the folder is missing. */
async function listHdfs(base: string, dir: string): Promise<HdfsFile[]> {
  const store = new WebHdfsFileStore(sinkUrl(base));
  const out: HdfsFile[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await store.listStatus(d);
    } catch (e) {
      if (e instanceof WebHdfsError && e.status === 404) return;
      throw e;
    }
    for (const e of entries) {
      if (e.type === 'DIRECTORY') await walk(`${d}/${e.pathSuffix}`);
      else out.push({ path: `${d}/${e.pathSuffix}`, name: e.pathSuffix });
    }
  };
  await walk(dir);
  return out;
}

const isTemp = (name: string) => name.startsWith('.') && name.endsWith('.tmp');

/** Every JSON line of a dataset on HDFS, as a reader (Spark, DuckDB) sees it: temp files skipped. */
async function readHdfsDataset(base: string, dir: string): Promise<string[]> {
  const store = new WebHdfsFileStore(sinkUrl(base));
  const lines: string[] = [];
  for (const f of await listHdfs(base, dir)) {
    if (!f.name.endsWith('.json') || f.name.startsWith('.')) continue;
    lines.push(...(await store.readFile(f.path)).split('\n').filter((l) => l !== ''));
  }
  return lines.sort();
}

/**
 * The reference KPIs of the windows that must be closed once the whole topic is processed:
 * - `all-idle` (run --idle 2s): every partition idle, windows close up to the largest event time;
 * - `watermark` (run --idle 10m): windows close up to the watermark, the smallest over the
 *   partitions of their largest event time.
 */
async function referenceFor(topic: string, closing: 'all-idle' | 'watermark' = 'all-idle') {
  const records = await readTopic(kafka.bootstrap, topic);
  const inputs: RefInput[] = [];
  for (const r of records) {
    const inv = r.value === null ? null : parseFeedLine(r.value);
    if (inv !== null) inputs.push({ partition: r.partition, invoice: inv });
  }
  const ref = referenceKpis(inputs, WINDOW, GRACE);
  const maxByPartition = new Map<number, number>();
  for (const i of inputs) maxByPartition.set(i.partition, Math.max(maxByPartition.get(i.partition) ?? -Infinity, i.invoice.ts));
  const upTo = closing === 'all-idle' ? Math.max(...maxByPartition.values()) : Math.min(...maxByPartition.values());
  const closed = (line: string) => Date.parse(JSON.parse(line).window.end) + GRACE <= upTo;
  return { closedTime: ref.time.filter(closed).sort(), closedCountry: ref.country.filter(closed).sort() };
}


const runArgs = (topic: string, group: string, base: string, idle = '2s') => [
  'run', '--brokers', brokers, '--input', topic, '--group', group, '--sink', sinkUrl(base), '--window', '1m', '--grace', '2m', '--idle', idle,
];

// --idle: a stall longer than --idle (a slow restart, HDFS down) legitimately lets the watermark
// skip a silent partition and close a window before that partition's on-time invoices arrive
// (they then go to `late`). That is --idle doing its job, not the sink, so:
// - the crash test uses 15 s, more than a replay's stalls on a busy machine. (Not 10 minutes: a
//   restarted process learns an upstream partition's watermark only from new records, so
//   partitions with nothing left to replay hold the windows open until they count as idle.)
// - the outage test uses 10 minutes (HDFS is down for 45 s), and its reference closes windows
//   up to the watermark, not up to the largest event time.
const CRASH_IDLE = '15s';
const OUTAGE_IDLE = '10m';

async function simulate(topic: string, count: number, seed: number, opts: { start?: number; bad?: string; late?: string } = {}) {
  const r = await runCli([
    'simulate', '--brokers', brokers, '--topic', topic, '--rate', '0', '--count', String(count), '--partitions', '4', '--seed', String(seed),
    '--start', new Date(opts.start ?? START).toISOString(), '--event-rate', '10', '--grace', '2m',
    '--late-ratio', opts.late ?? '0.01', '--bad-ratio', opts.bad ?? '0.005', '--out-of-order-ratio', '0.05',
  ]);
  expect(r.code, r.output).toBe(0);
}

/** The KPI files on HDFS equal the reference: every closed window (and country) once, nothing else. */
async function expectFilesMatchReference(topic: string, base: string, opts: { closing?: 'all-idle' | 'watermark'; timeoutMs?: number } = {}) {
  const timeoutMs = opts.timeoutMs ?? 90_000;
  const { closedTime, closedCountry } = await referenceFor(topic, opts.closing);
  expect(closedTime.length).toBeGreaterThan(5);
  const time = await eventually(() => readHdfsDataset(base, 'time-kpis'), (l) => l.length >= closedTime.length, timeoutMs);
  expect(time).toEqual(closedTime);
  const country = await eventually(() => readHdfsDataset(base, 'time-country-kpis'), (l) => l.length >= closedCountry.length, 30_000);
  expect(country).toEqual(closedCountry);
  // Laid out for Spark/Hive/DuckDB: <dataset>/date=YYYY-MM-DD/hour=HH/part-<task>-<window start>.json
  for (const f of await listHdfs(base, 'time-kpis')) {
    if (!isTemp(f.name)) expect(f.path).toMatch(/^time-kpis\/date=2020-09-18\/hour=\d\d\/part-[\w-]+-\d+\.json$/);
  }
}

describe('retail-streams run with an HDFS sink', () => {
  it('writes KPI files on HDFS that equal the reference', async () => {
    await simulate('hdfs-one', 6000, 7);
    const p = startCli(runArgs('hdfs-one', 'g-hdfs-one', 'kpi-one'));
    try {
      await p.waitFor(/joined group g-hdfs-one/);
      await expectFilesMatchReference('hdfs-one', 'kpi-one');
    } finally {
      expect(await p.stop()).toBe(0);
    }
    expect(p.output()).toMatch(/writing KPI files to hdfs:\/\/127\.0\.0\.1:\d+\/kpi-one/);
  });

  it('a kill -9 between writing a temp file and renaming it, then a restart: no duplicate, no missing row', async () => {
    // No bad or late records: the first temp files are KPI files, so the kill hits one of them.
    await simulate('hdfs-crash', 6000, 21, { bad: '0', late: '0' });
    const first = startCli(runArgs('hdfs-crash', 'g-hdfs-crash', 'kpi-crash', CRASH_IDLE), { RS_FAULT_KILL_BEFORE_RENAME: '2' });
    expect(await first.exited).toBeNull();
    expect(first.proc.signalCode).toBe('SIGKILL');
    expect(first.output()).toMatch(/RS_FAULT_KILL_BEFORE_RENAME: killing process \d+ after temp file 2, before its rename/);
    const afterKill = [...(await listHdfs('kpi-crash', 'time-kpis')), ...(await listHdfs('kpi-crash', 'time-country-kpis'))];
    expect(afterKill.filter((f) => isTemp(f.name)).length).toBeGreaterThan(0);

    const second = startCli(runArgs('hdfs-crash', 'g-hdfs-crash', 'kpi-crash', CRASH_IDLE));
    try {
      await second.waitFor(/joined group g-hdfs-crash/, 90_000);
      // Exact, not just at-least-once: the kill comes before the rename, and the runtime must write
      // the batch's changelog (which deletes the windows it closes) only after its files are renamed;
      // then the replay recomputes the very same rows and the rename finds done what was done.
      await expectFilesMatchReference('hdfs-crash', 'kpi-crash');
    } finally {
      expect(await second.stop()).toBe(0);
    }
    // Only committed files and (ignored) temp files: nothing else lands in the datasets.
    const files = [...(await listHdfs('kpi-crash', 'time-kpis')), ...(await listHdfs('kpi-crash', 'time-country-kpis'))];
    for (const f of files) expect(f.name).toMatch(/^(part-[\w-]+\.json|\.part-[\w-]+\.json\.tmp)$/);
    console.log(`after the crash: ${files.filter((f) => isTemp(f.name)).length} temp file(s) left behind (ignored by readers), ${files.length} files in all`);
  });

  it('an HDFS outage mid-stream (NameNode and DataNode down for 45 s): retries, then nothing lost', async () => {
    const topic = 'hdfs-outage';
    await simulate(topic, 3000, 13);
    const p: CliProcess = startCli(runArgs(topic, 'g-hdfs-outage', 'kpi-outage', OUTAGE_IDLE));
    try {
      await p.waitFor(/joined group g-hdfs-outage/);
      const some = await eventually(() => readHdfsDataset('kpi-outage', 'time-kpis'), (l) => l.length > 0);
      expect(some.length).toBeGreaterThan(0);

      await Promise.all([hdfs.stopNode('datanode'), hdfs.stopNode('namenode')]);
      const downAt = Date.now();
      // The rest of the stream arrives while HDFS is down (event time goes on from the first half).
      await simulate(topic, 3000, 14, { start: START + 3000 * 100 });
      await p.waitFor(/WARN .*failed \(attempt \d+.*retrying in/, 60_000);
      await new Promise((r) => setTimeout(r, Math.max(0, 45_000 - (Date.now() - downAt))));
      expect(p.proc.exitCode).toBeNull();
      await hdfs.startNode('namenode');
      await hdfs.startNode('datanode');

      await expectFilesMatchReference(topic, 'kpi-outage', { closing: 'watermark', timeoutMs: 120_000 });
      expect(p.output()).toMatch(/succeeded after \d+ failed attempts/);
    } finally {
      expect(await p.stop()).toBe(0);
    }
  });

  it('fails clearly (exit 5) when HDFS cannot be reached at start', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    await new Promise((r) => srv.close(r));
    const r = await runCli(['run', '--brokers', brokers, '--sink', `hdfs://127.0.0.1:${port}/kpi`]);
    expect(r.code).toBe(5);
    expect(r.output).toContain(`cannot use --sink hdfs://127.0.0.1:${port}/kpi: HDFS (WebHDFS http://127.0.0.1:${port}, user retail-streams): still failing after 5 attempts`);
    expect(r.output).toMatch(/ECONNREFUSED/);
  });
});
