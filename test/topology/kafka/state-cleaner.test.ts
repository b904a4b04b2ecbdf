// The state directory cleaner (`state.cleanup.delay.ms`): task directories of tasks not
// assigned here go once untouched for longer than the delay; assigned, open or recently touched
// ones stay. An injected clock, real files in a temporary state folder.
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StreamsBuilder } from '../../../topology/api/builder.ts';
import { Serdes, type Serde } from '../../../topology/api/serdes.ts';
import { writeCheckpoint } from '../../../topology/runtimes/kafka/checkpoint.ts';
import { DEFAULT_STATE_CLEANUP_DELAY_MS, StateCleaner } from '../../../topology/runtimes/kafka/state-cleaner.ts';
import { resolveConfig } from '../../../topology/runtimes/kafka/config.ts';
import { silentLogger } from '../../../topology/api/log.ts';
import { FakeBroker } from '../../support/fake-kafka.ts';
import { memoryLog, taskSetup, tempStateDir } from './harness.ts';

const DELAY = 60_000;

/** A task directory with a store folder and a checkpoint, every mtime set `ageMs` before `now`. */
function taskDir(stateDir: string, task: string, now: number, ageMs: number, app = 'app'): string {
  const dir = join(stateDir, app, task);
  mkdirSync(join(dir, 'counts'), { recursive: true });
  writeFileSync(join(dir, 'counts', 'CURRENT'), 'MANIFEST-000001\n');
  writeFileSync(join(dir, '.checkpoint'), '{"version":1,"offsets":{}}');
  age(dir, now - ageMs);
  return dir;
}

/** Sets the mtime of a folder and everything in it. */
function age(path: string, at: number): void {
  for (const e of readdirSync(path, { withFileTypes: true })) {
    if (e.isDirectory()) age(join(path, e.name), at);
    else utimesSync(join(path, e.name), at / 1000, at / 1000);
  }
  utimesSync(path, at / 1000, at / 1000);
}

function setup(delayMs = DELAY) {
  const stateDir = tempStateDir();
  let now = Date.now();
  const { log, lines } = memoryLog();
  const cleaner = new StateCleaner({ stateDir, applicationId: 'app', delayMs, clock: () => now, log });
  return { stateDir, cleaner, lines, now: () => now, advance: (ms: number) => void (now += ms) };
}

const none = () => false;

describe('state directory cleaner', () => {
  it('defaults to Kafka Streams\' 10 minutes', () => {
    expect(DEFAULT_STATE_CLEANUP_DELAY_MS).toBe(600_000);
    expect(resolveConfig({ applicationId: 'a', bootstrapServers: 'x:1' }, silentLogger).stateCleanupDelayMs).toBe(600_000);
    expect(resolveConfig({ applicationId: 'a', bootstrapServers: 'x:1', stateCleanupDelayMs: 5 }, silentLogger).stateCleanupDelayMs).toBe(5);
  });

  it('removes task directories not in use and untouched for longer than the delay, and nothing else', async () => {
    const s = setup();
    const old = taskDir(s.stateDir, '0_0', s.now(), DELAY + 1_000);
    const fresh = taskDir(s.stateDir, '0_1', s.now(), DELAY - 5_000);
    const assigned = taskDir(s.stateDir, '1_0', s.now(), 10 * DELAY);
    const otherApp = taskDir(s.stateDir, '0_0', s.now(), 10 * DELAY, 'other-app');
    // Not task directories: left alone whatever their age.
    mkdirSync(join(s.stateDir, 'app', 'notes'));
    writeFileSync(join(s.stateDir, 'app', '.lock'), '');
    age(join(s.stateDir, 'app', 'notes'), s.now() - 10 * DELAY);

    expect(await s.cleaner.clean((id) => id === '1_0')).toEqual(['0_0']);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(existsSync(assigned)).toBe(true);
    expect(existsSync(otherApp)).toBe(true);
    expect(readdirSync(join(s.stateDir, 'app')).sort()).toEqual(['.lock', '0_1', '1_0', 'notes']);
    expect(s.lines).toContainEqual(expect.stringMatching(/state cleaner: removed the directory of task 0_0, not assigned here and untouched for 61 s/));

    // Later the fresh one is old too.
    s.advance(10_000);
    expect(await s.cleaner.clean((id) => id === '1_0')).toEqual(['0_1']);
    expect(existsSync(assigned)).toBe(true);
  });

  it('counts a checkpoint or store file written lately as a touch, even when the folder itself is old', async () => {
    const s = setup();
    const dir = taskDir(s.stateDir, '0_0', s.now(), 10 * DELAY);
    await writeCheckpoint(dir, new Map([['app-counts-changelog/0', 5n]]));
    utimesSync(dir, (s.now() - 10 * DELAY) / 1000, (s.now() - 10 * DELAY) / 1000);
    expect(await s.cleaner.clean(none)).toEqual([]);
    expect(existsSync(dir)).toBe(true);
    s.advance(DELAY + 1_000);
    expect(await s.cleaner.clean(none)).toEqual(['0_0']);
  });

  it('asks again just before removing: a task that starts during the pass keeps its directory', async () => {
    const s = setup();
    const dir = taskDir(s.stateDir, '0_0', s.now(), 10 * DELAY);
    let asked = 0;
    // Not in use when the pass lists it, in use by the time it would be moved aside.
    expect(await s.cleaner.clean((id) => id === '0_0' && ++asked > 1)).toEqual([]);
    expect(asked).toBe(2);
    expect(existsSync(dir)).toBe(true);
  });

  it('runs a pass at most every delay, the first one a delay after start; Infinity never removes', async () => {
    const s = setup();
    taskDir(s.stateDir, '0_0', s.now(), 10 * DELAY);
    expect(await s.cleaner.maybeClean(none)).toEqual([]);
    s.advance(DELAY - 1);
    expect(await s.cleaner.maybeClean(none)).toEqual([]);
    s.advance(1);
    expect(await s.cleaner.maybeClean(none)).toEqual(['0_0']);
    taskDir(s.stateDir, '0_1', s.now(), 10 * DELAY);
    s.advance(DELAY / 2);
    expect(await s.cleaner.maybeClean(none)).toEqual([]);
    s.advance(DELAY / 2);
    expect(await s.cleaner.maybeClean(none)).toEqual(['0_1']);

    const never = setup(Number.POSITIVE_INFINITY);
    const kept = taskDir(never.stateDir, '0_0', never.now(), 10 * DELAY);
    never.advance(365 * 24 * 3600_000);
    expect(await never.cleaner.maybeClean(none)).toEqual([]);
    expect(await never.cleaner.clean(none)).toEqual([]);
    expect(existsSync(kept)).toBe(true);
  });

  it('finishes a removal a crash left half done, and copes with a missing state folder', async () => {
    const s = setup();
    expect(await s.cleaner.clean(none)).toEqual([]);
    const trash = join(s.stateDir, 'app', '.deleting-0_0-1234');
    mkdirSync(join(trash, 'counts'), { recursive: true });
    writeFileSync(join(trash, 'counts', '000001.sst'), 'x');
    expect(await s.cleaner.clean(none)).toEqual([]);
    expect(existsSync(trash)).toBe(false);
  });

  it('runs from the task manager\'s maintenance: the directory of a task that moved away goes, an assigned one stays', async () => {
    const b = new StreamsBuilder();
    const str = Serdes.string as Serde<string>;
    b.stream<string, string>('in', { keySerde: str, valueSerde: str }).groupByKey().count({ storeName: 'counts' }).toStream().to('out', { keySerde: str, valueSerde: Serdes.json<number>() });
    const topology = b.build();
    const broker = new FakeBroker();
    for (const [name, store] of topology.stores) if (store.logged) broker.createTopic(`app-${name}-changelog`, 2, { 'cleanup.policy': 'compact' });
    const stateDir = tempStateDir();
    let now = Date.now();
    // Left by an earlier run: partition 1's task (assigned elsewhere now), checkpointed, and partition 0's.
    const gone = join(stateDir, 'app', '0_1');
    await writeCheckpoint(gone, new Map([['app-counts-changelog/1', 7n]]));
    age(gone, now - 2 * DEFAULT_STATE_CLEANUP_DELAY_MS);
    const kept = join(stateDir, 'app', '0_0');
    mkdirSync(kept, { recursive: true });
    age(kept, now - 2 * DEFAULT_STATE_CLEANUP_DELAY_MS);
    const env = taskSetup(broker, topology, { partitions: { in: 2, out: 1 }, stateDir, defaultStore: 'rocksdb', clock: () => now });
    await env.tasks.assign(new Set(['in/0']), new Set());
    expect(env.tasks.localState().offsets.get('0_1')?.get('app-counts-changelog/1')).toBe(7n);
    await env.tasks.maintain();
    expect(existsSync(gone)).toBe(true);
    // Two delays later by the cleaner's clock, the running task's folder looks old too: in use, so kept.
    now += 2 * DEFAULT_STATE_CLEANUP_DELAY_MS;
    await env.tasks.maintain();
    expect(existsSync(gone)).toBe(false);
    expect(existsSync(kept)).toBe(true);
    expect(env.lines).toContainEqual(expect.stringMatching(/state cleaner: removed the directory of task 0_1/));
    // No longer offered to the group leader as state held here.
    expect(env.tasks.localState().offsets.has('0_1')).toBe(false);
    await env.tasks.closeAll();
  });
});
