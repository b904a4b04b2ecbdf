import { describe, expect, it } from 'vitest';
import { RetryingFileStore, retrying, type RetryPolicy } from '../../sinks/retrying-store.ts';
import type { FileStore } from '../../sinks/file-store.ts';
import { fileSink } from '../../sinks/file-sink.ts';
import { RetailStreamsError } from '../../topology/api/errors.ts';
import type { Logger } from '../../topology/api/log.ts';

const fast: RetryPolicy = { initialDelayMs: 5, factor: 2, maxDelayMs: 20, giveUpAfterMs: 5_000 };

function memoryLog() {
  const lines: string[] = [];
  const log: Logger = {
    debug: (m) => lines.push(`debug ${m}`),
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
  return { log, lines };
}

const down = () => new RetailStreamsError('sink-unavailable', 'WebHDFS CREATE /x: connect ECONNREFUSED');

describe('retrying', () => {
  it('retries retriable failures with growing delays, logging each failure once with the next delay', async () => {
    const { log, lines } = memoryLog();
    let calls = 0;
    const result = await retrying('write f', async () => {
      calls++;
      if (calls <= 3) throw down();
      return 'ok';
    }, fast, log);
    expect(result).toBe('ok');
    expect(calls).toBe(4);
    const warns = lines.filter((l) => l.startsWith('warn'));
    expect(warns).toHaveLength(3);
    expect(warns[0]).toMatch(/^warn write f failed \(attempt 1, failing for \d+ms\): WebHDFS CREATE \/x: connect ECONNREFUSED; retrying in 5ms$/);
    expect(warns.map((w) => /retrying in (\d+)ms/.exec(w)![1])).toEqual(['5', '10', '20']);
    expect(lines.at(-1)).toMatch(/^info write f succeeded after 3 failed attempts/);
  });

  it('caps the delay', async () => {
    const { log, lines } = memoryLog();
    let calls = 0;
    await retrying('x', async () => {
      if (++calls <= 5) throw down();
    }, { ...fast, maxDelayMs: 12 }, log);
    expect(lines.filter((l) => l.startsWith('warn')).map((w) => /retrying in (\d+)ms/.exec(w)![1])).toEqual(['5', '10', '12', '12', '12']);
  });

  it('does not retry a failure that is not retriable', async () => {
    const { log, lines } = memoryLog();
    let calls = 0;
    const refused = new RetailStreamsError('io', 'WebHDFS MKDIRS /x: HTTP 403 AccessControlException: Permission denied');
    await expect(retrying('mkdirs x', async () => {
      calls++;
      throw refused;
    }, fast, log)).rejects.toBe(refused);
    expect(calls).toBe(1);
    expect(lines).toEqual([]);
  });

  it('gives up with a clear error, never silently', async () => {
    const { log, lines } = memoryLog();
    let calls = 0;
    const e = (await retrying('write f', async () => {
      calls++;
      throw down();
    }, { ...fast, maxRetries: 3 }, log).catch((x: unknown) => x)) as RetailStreamsError;
    expect(calls).toBe(4);
    expect(e.code).toBe('sink-unavailable');
    expect(e.message).toMatch(/^write f: still failing after 4 attempts over \d+ms, giving up: WebHDFS CREATE \/x: connect ECONNREFUSED$/);
    expect(lines.at(-1)).toBe(`error ${e.message}`);
  });

  it('gives up after the time limit', async () => {
    const { log } = memoryLog();
    const started = Date.now();
    await expect(retrying('w', async () => {
      throw down();
    }, { ...fast, giveUpAfterMs: 150 }, log)).rejects.toThrow(/giving up/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

/** An in-memory FileStore that fails while `outage` is on. */
function flakyStore() {
  const files = new Map<string, string>();
  const state = { outage: false, calls: 0 };
  const guard = () => {
    state.calls++;
    if (state.outage) throw down();
  };
  const store: FileStore = {
    description: 'memory',
    async mkdirs() {
      guard();
    },
    async writeFile(path, content) {
      guard();
      files.set(path, content);
    },
    async renameNoReplace(from, to) {
      guard();
      const content = files.get(from);
      files.delete(from);
      if (files.has(to)) return false;
      files.set(to, content!);
      return true;
    },
    async delete(path) {
      guard();
      files.delete(path);
    },
  };
  return { store, files, state };
}

describe('RetryingFileStore under a file sink', () => {
  it('waits through an outage and then commits every row exactly once', async () => {
    const { store, files, state } = flakyStore();
    const { log, lines } = memoryLog();
    const sink = fileSink<string>({
      store: new RetryingFileStore(store, log, fast),
      dir: 'kpi',
      layout: 'flat',
      naming: 'per-key',
      keyOf: (r) => r.timestamp,
      format: (r) => r.value,
    })('1_0');
    sink.write({ key: null, value: 'a', timestamp: 60_000 });
    sink.write({ key: null, value: 'b', timestamp: 120_000 });
    state.outage = true;
    const commit = sink.commit();
    await new Promise((r) => setTimeout(r, 100));
    expect(files.size).toBe(0);
    state.outage = false;
    await commit;
    expect(Object.fromEntries(files)).toEqual({ 'kpi/part-1_0-60000.json': 'a\n', 'kpi/part-1_0-120000.json': 'b\n' });
    expect(lines.some((l) => /^warn mkdirs kpi failed \(attempt 1.*retrying in 5ms$/.test(l))).toBe(true);
    // Nothing is left to write: a second commit touches nothing.
    const calls = state.calls;
    await sink.commit();
    expect(state.calls).toBe(calls);
  });
});
