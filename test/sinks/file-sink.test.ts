import { describe, expect, it } from 'vitest';
import type { FileStore } from '../../sinks/file-store.ts';
import { fileSink } from '../../sinks/file-sink.ts';

/** An in-memory FileStore with slow writes, that counts how many run at once and fails the paths it is told to. */
function slowStore(failing: Set<string>) {
  const files = new Map<string, string>();
  const state = { inFlight: 0, maxInFlight: 0, writes: [] as string[] };
  const store: FileStore = {
    description: 'memory',
    async mkdirs() {},
    async writeFile(path, content) {
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      await new Promise((r) => setTimeout(r, 2));
      state.inFlight--;
      state.writes.push(path);
      if (failing.has(path)) throw new Error(`disk full writing ${path}`);
      files.set(path, content);
    },
    async renameNoReplace(from, to) {
      if (files.has(to)) return false;
      files.set(to, files.get(from)!);
      files.delete(from);
      return true;
    },
    async delete(path) {
      files.delete(path);
    },
  };
  return { store, files, state };
}

const sinkOn = (store: FileStore) => fileSink<string>({ store, dir: 'kpi', layout: 'flat', naming: 'per-key', keyOf: (r) => r.timestamp, format: (r) => r.value })('1_0');

describe('a file sink commit', () => {
  it('writes the files of many windows several at a time, each under its final name once', async () => {
    const { store, files, state } = slowStore(new Set());
    const sink = sinkOn(store);
    for (let w = 0; w < 40; w++) for (const v of ['x', 'y']) sink.write({ key: null, value: `${v}${w}`, timestamp: w * 60_000 });
    await sink.commit();
    expect(state.maxInFlight).toBeGreaterThan(1);
    expect(files.size).toBe(40);
    for (let w = 0; w < 40; w++) expect(files.get(`kpi/part-1_0-${w * 60_000}.json`)).toBe(`x${w}\ny${w}\n`);
    await sink.commit();
    expect(state.writes.length).toBe(40);
  });

  it('fails when one file fails, keeps only that one for the next commit, and loses no row', async () => {
    const failing = new Set(['kpi/.part-1_0-120000.json.tmp']);
    const { store, files, state } = slowStore(failing);
    const sink = sinkOn(store);
    for (let w = 0; w < 10; w++) sink.write({ key: null, value: `v${w}`, timestamp: w * 60_000 });
    await expect(sink.commit()).rejects.toThrow('disk full');
    expect(files.has('kpi/part-1_0-120000.json')).toBe(false);
    failing.clear();
    const before = state.writes.length;
    await sink.commit();
    // Only the failed window is written again.
    expect(state.writes.slice(before)).toEqual(['kpi/.part-1_0-120000.json.tmp']);
    expect([...files.keys()].filter((k) => !k.includes('.tmp')).sort()).toEqual(Array.from({ length: 10 }, (_, w) => `kpi/part-1_0-${w * 60_000}.json`).sort());
    expect(files.get('kpi/part-1_0-120000.json')).toBe('v2\n');
  });
});
