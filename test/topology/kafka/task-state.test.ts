// Checkpoints, restores from them and standby tasks, with real RocksDB stores in a temporary
// state folder and the fake broker for Kafka.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KeyValueStore } from '../../../state-stores/api.ts';
import type { StoreKind } from '../../../state-stores/stores.ts';
import type { ActiveTask } from '../../../topology/runtimes/kafka/active-task.ts';
import { AtLeastOnceCommitter } from '../../../topology/runtimes/kafka/alos-committer.ts';
import { CHECKPOINT_FILE, readCheckpoint } from '../../../topology/runtimes/kafka/checkpoint.ts';
import type { Committer } from '../../../topology/runtimes/kafka/committer.ts';
import type { Guarantee } from '../../../topology/runtimes/kafka/config.ts';
import { ExactlyOnceCommitter } from '../../../topology/runtimes/kafka/eos-committer.ts';
import { FakeBroker } from '../../support/fake-kafka.ts';
import { counting, feed, raw, recordingHooks, taskSetup, tempStateDir } from './harness.ts';

const T0 = Date.UTC(2019, 4, 1);
const CHANGELOG = 'app-counts-changelog';


/** One process's view: a task manager on a state folder, and the committer of its guarantee. */
async function process(broker: FakeBroker, stateDir: string, o: { guarantee?: Guarantee; store?: StoreKind } = {}) {
  const metrics = new Map<string, number>();
  const topology = counting();
  const env = taskSetup(broker, topology, { partitions: { in: 1, out: 1 }, stateDir, guarantee: o.guarantee ?? 'at-least-once', defaultStore: o.store ?? 'rocksdb', metrics });
  // The changelogs, as the provisioner makes them: `counts`, and the task's stream time.
  for (const [name, store] of topology.stores) if (store.logged) broker.createTopic(`app-${name}-changelog`, 1, { 'cleanup.policy': 'compact' });
  const { hooks } = recordingHooks();
  const withCheckpoints = { ...hooks, checkpoint: (tasks: readonly ActiveTask[]) => env.tasks.checkpoint(tasks) };
  let committer: Committer;
  if (o.guarantee === 'exactly-once') committer = new ExactlyOnceCommitter('app', withCheckpoints, {}, env.log);
  else {
    const c = new AtLeastOnceCommitter(env.kafka, () => env.consumer, withCheckpoints, 'fail', env.log);
    await c.start();
    committer = c;
  }
  let next = 0;
  /** Counts `keys` (one record each) and commits. */
  const run = async (t: ActiveTask, keys: readonly string[]) => {
    feed(t, 'in', raw(keys.map((key, i) => ({ key, value: 'x', timestamp: T0 + next + i })), next));
    next += keys.length;
    await committer.commit([t], [{ topic: 'in', partition: 0, offset: String(next) }]);
  };
  return { env, metrics, committer, run, dir: join(stateDir, 'app', '0_0') };
}

/** The checkpointed offset of the `counts` changelog in a task folder. */
const checkpointed = async (dir: string) => (await readCheckpoint(dir))?.get(`${CHANGELOG}/0`);

const counts = (t: ActiveTask) => t.task.stores.get('counts') as KeyValueStore<string, number>;
const restoredLine = (lines: readonly string[]) => lines.find((l) => /restored \d+ changelog entries of counts/.test(l));
const keys = (n: number, prefix = 'k') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('at-least-once checkpoints', () => {
  it('are written after each commit at the acknowledged changelog offset, and a restart restores only what came after', async () => {
    const broker = new FakeBroker();
    const stateDir = tempStateDir();
    const a = await process(broker, stateDir);
    const t = await a.env.tasks.taskFor('in', 0);
    await a.run(t, keys(500));
    await a.run(t, ['k1', 'k2']);
    expect(await checkpointed(a.dir)).toBe(502n);
    expect(broker.endOffset(CHANGELOG, 0)).toBe(502);
    await a.env.tasks.closeAll();
    await a.committer.close();

    // Another process takes the task over (restoring all of it) and counts three more records.
    const b = await process(broker, tempStateDir());
    const tb = await b.env.tasks.taskFor('in', 0);
    expect(restoredLine(b.env.lines)).toMatch(/restored 502 changelog entries .*offsets 0 to 502; read 502/);
    await b.run(tb, ['k1', 'k1', 'new']);
    await b.env.tasks.closeAll();
    await b.committer.close();

    // Back on the first state folder: only the two entries written since its checkpoint are read.
    const c = await process(broker, stateDir);
    const tc = await c.env.tasks.taskFor('in', 0);
    expect(restoredLine(c.env.lines)).toMatch(/restored 2 changelog entries of counts from app-counts-changelog\[0\] \(offsets 502 to 504; read 2\)/);
    expect(c.metrics.get('restore-records-restored')).toBe(2);
    expect(c.metrics.get('restore-records-to-restore')).toBe(2);
    expect(c.metrics.get('restore-records-restored{task="0_0"}')).toBe(2);
    expect(counts(tc).get('k1')).toBe(4);
    expect(counts(tc).get('k2')).toBe(2);
    expect(counts(tc).get('new')).toBe(1);
    expect(counts(tc).get('k499')).toBe(1);
    await c.env.tasks.closeAll();
    await c.committer.close();
  });

  it('a checkpoint beyond the changelog end (a recreated topic) wipes the store and restores it in full', async () => {
    const stateDir = tempStateDir();
    const a = await process(new FakeBroker(), stateDir);
    await a.run(await a.env.tasks.taskFor('in', 0), keys(50));
    await a.env.tasks.closeAll();
    // The same state folder against a changelog that holds only 10 entries.
    const broker = new FakeBroker();
    const other = await process(broker, tempStateDir());
    const to = await other.env.tasks.taskFor('in', 0);
    await other.run(to, keys(10, 'z'));
    await other.env.tasks.closeAll();
    const b = await process(broker, stateDir);
    const tb = await b.env.tasks.taskFor('in', 0);
    expect(b.env.lines).toContainEqual(expect.stringMatching(/task 0_0: wiping the local state of counts \(checkpoint 50 is beyond the changelog's end 10\); restoring it in full/));
    expect(restoredLine(b.env.lines)).toMatch(/restored 10 changelog entries/);
    expect(counts(tb).get('k1')).toBeUndefined();
    expect(counts(tb).get('z1')).toBe(1);
    await b.env.tasks.closeAll();
  });

  it('a checkpoint below the changelog start (records deleted) wipes and restores in full', async () => {
    const broker = new FakeBroker();
    const stateDir = tempStateDir();
    const a = await process(broker, stateDir);
    const t = await a.env.tasks.taskFor('in', 0);
    await a.run(t, keys(20));
    await a.env.tasks.closeAll();
    const b = await process(broker, tempStateDir());
    const tb = await b.env.tasks.taskFor('in', 0);
    await b.run(tb, keys(20, 'y'));
    await b.env.tasks.closeAll();
    await b.env.kafka.admin().deleteTopicRecords({ topic: CHANGELOG, partitions: [{ partition: 0, offset: '25' }] });
    const c = await process(broker, stateDir);
    const tc = await c.env.tasks.taskFor('in', 0);
    expect(c.env.lines).toContainEqual(expect.stringMatching(/wiping the local state of counts \(checkpoint 20 is below the changelog's start 25\)/));
    expect(restoredLine(c.env.lines)).toMatch(/restored 15 changelog entries .*offsets 25 to 40/);
    await c.env.tasks.closeAll();
  });

  it('a store folder without a checkpoint is not trusted: wiped, restored in full', async () => {
    const broker = new FakeBroker();
    const stateDir = tempStateDir();
    const a = await process(broker, stateDir);
    await a.run(await a.env.tasks.taskFor('in', 0), keys(30));
    await a.env.tasks.closeAll();
    writeFileSync(join(a.dir, CHECKPOINT_FILE), 'garbage');
    const b = await process(broker, stateDir);
    await b.env.tasks.taskFor('in', 0);
    expect(b.env.lines).toContainEqual(expect.stringMatching(/wiping the local state of counts \(no checkpoint\)/));
    expect(restoredLine(b.env.lines)).toMatch(/restored 30 changelog entries/);
    await b.env.tasks.closeAll();
  });

  it('memory stores write no checkpoint and restore in full', async () => {
    const broker = new FakeBroker();
    const stateDir = tempStateDir();
    const a = await process(broker, stateDir, { store: 'memory' });
    await a.run(await a.env.tasks.taskFor('in', 0), keys(30));
    await a.env.tasks.closeAll();
    expect(existsSync(join(a.dir, CHECKPOINT_FILE))).toBe(false);
    const b = await process(broker, stateDir, { store: 'memory' });
    await b.env.tasks.taskFor('in', 0);
    expect(restoredLine(b.env.lines)).toMatch(/restored 30 changelog entries/);
    await b.env.tasks.closeAll();
  });
});

describe('exactly-once checkpoints', () => {
  it('are removed when the task starts and written on a clean close; after a crash the state is wiped and restored in full', async () => {
    const broker = new FakeBroker();
    const stateDir = tempStateDir();
    const a = await process(broker, stateDir, { guarantee: 'exactly-once' });
    const t = await a.env.tasks.taskFor('in', 0);
    await a.run(t, keys(40));
    // Running: no checkpoint, whatever was committed.
    expect(existsSync(join(a.dir, CHECKPOINT_FILE))).toBe(false);
    await a.env.tasks.closeAll(true);
    expect(await checkpointed(a.dir)).toBe(40n);

    // Restarted on it: the local state is kept, nothing restored, and the checkpoint is gone while it runs.
    const b = await process(broker, stateDir, { guarantee: 'exactly-once' });
    const tb = await b.env.tasks.taskFor('in', 0);
    expect(restoredLine(b.env.lines)).toBeUndefined();
    expect(b.env.lines.some((l) => /wiping/.test(l))).toBe(false);
    expect(existsSync(join(b.dir, CHECKPOINT_FILE))).toBe(false);
    expect(counts(tb).get('k7')).toBe(1);
    await b.run(tb, ['k7']);
    // A crash (kill -9): the stores are not closed cleanly and no checkpoint is written.
    await b.env.tasks.closeAll(false);
    expect(existsSync(join(b.dir, CHECKPOINT_FILE))).toBe(false);

    const c = await process(broker, stateDir, { guarantee: 'exactly-once' });
    const tc = await c.env.tasks.taskFor('in', 0);
    expect(c.env.lines).toContainEqual(expect.stringMatching(/wiping the local state of counts \(no checkpoint\); restoring it in full/));
    expect(restoredLine(c.env.lines)).toMatch(/restored 41 changelog entries .*offsets 0 to 41/);
    expect(counts(tc).get('k7')).toBe(2);
    await c.env.tasks.closeAll();
  });

  it('a close with changes no transaction holds writes no checkpoint', async () => {
    const broker = new FakeBroker();
    const stateDir = tempStateDir();
    const a = await process(broker, stateDir, { guarantee: 'exactly-once' });
    const t = await a.env.tasks.taskFor('in', 0);
    await a.run(t, keys(5));
    feed(t, 'in', raw([{ key: 'k1', value: 'x', timestamp: T0 + 10 }], 5));
    await a.env.tasks.closeAll(true);
    expect(existsSync(join(a.dir, CHECKPOINT_FILE))).toBe(false);
    expect(a.env.lines).toContainEqual(expect.stringMatching(/task 0_0: closed with uncommitted changes/));
  });
});

describe('standby tasks', () => {
  it('apply their changelog, report their lag and checkpoint; the task starting here takes their stores and restores only the rest', async () => {
    const broker = new FakeBroker();
    // The active task runs elsewhere.
    const owner = await process(broker, tempStateDir());
    const active = await owner.env.tasks.taskFor('in', 0);
    await owner.run(active, keys(100));

    const stateDir = tempStateDir();
    const here = await process(broker, stateDir);
    await here.env.tasks.assign(new Set(), new Set(['0_0']));
    expect(here.env.lines).toContainEqual(expect.stringMatching(/standby task 0_0 started from app-counts-changelog\[0\]@0/));
    const fetched = broker.records(CHANGELOG, 0);
    expect(here.env.tasks.applyStandby(CHANGELOG, 0, fetched.slice(0, 60), '59', '100')).toBe(true);
    expect(here.metrics.get('standby-lag{task="0_0"}')).toBe(40);
    expect(here.metrics.get('standby-records-applied')).toBe(60);
    here.env.tasks.applyStandby(CHANGELOG, 0, fetched.slice(50), '99', '100');
    expect(here.metrics.get('standby-lag{task="0_0"}')).toBe(0);
    // Records it had applied already (a fetch again after a seek) are not applied twice.
    expect(here.metrics.get('standby-records-applied')).toBe(100);
    expect(here.env.tasks.applyStandby('other-changelog', 0, [], '0', '0')).toBe(false);
    await here.env.tasks.maintain();
    expect(await checkpointed(join(stateDir, 'app', '0_0'))).toBe(100n);
    expect(here.metrics.get('state-store-entries{task="0_0",store="counts"}')).toBeGreaterThan(0);
    expect(here.env.tasks.localState()).toMatchObject({ active: [], standby: ['0_0'] });
    expect(here.env.tasks.localState().offsets.get('0_0')?.get(`${CHANGELOG}/0`)).toBe(100n);

    // The owner goes on a little, then dies; the task moves here.
    await owner.run(active, ['k1', 'k2', 'k3']);
    await owner.env.tasks.closeAll(false);
    await here.env.tasks.assign(new Set(['in/0']), new Set());
    expect(here.env.lines).toContainEqual(expect.stringMatching(/task 0_0: taking over the stores of its standby \(100 records applied here\)/));
    expect(restoredLine(here.env.lines)).toMatch(/restored 3 changelog entries .*offsets 100 to 103; read 3/);
    const t = here.env.tasks.all()[0]!;
    expect(counts(t).get('k1')).toBe(2);
    expect(counts(t).get('k99')).toBe(1);
    expect(here.metrics.has('standby-lag{task="0_0"}')).toBe(false);
    await here.env.tasks.closeAll();
  });

  it('a standby no longer assigned is closed with a checkpoint, and picked up from it later', async () => {
    const broker = new FakeBroker();
    const owner = await process(broker, tempStateDir());
    const active = await owner.env.tasks.taskFor('in', 0);
    await owner.run(active, keys(10));
    const stateDir = tempStateDir();
    const here = await process(broker, stateDir);
    await here.env.tasks.assign(new Set(), new Set(['0_0']));
    here.env.tasks.applyStandby(CHANGELOG, 0, broker.records(CHANGELOG, 0), '9', '10');
    await here.env.tasks.assign(new Set(), new Set());
    expect(here.env.lines).toContainEqual(expect.stringMatching(/standby task 0_0 closed/));
    expect(await checkpointed(join(stateDir, 'app', '0_0'))).toBe(10n);
    // What it reports to the leader comes from the checkpoint now.
    expect(here.env.tasks.localState().offsets.get('0_0')?.get(`${CHANGELOG}/0`)).toBe(10n);
    await here.env.tasks.assign(new Set(), new Set(['0_0']));
    expect(here.env.lines).toContainEqual(expect.stringMatching(/standby task 0_0 started from app-counts-changelog\[0\]@10/));
    await here.env.tasks.closeAll();
    await owner.env.tasks.closeAll();
  });
});
