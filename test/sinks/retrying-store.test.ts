import { describe, expect, it } from 'vitest';
import { RetryingFileStore, SINK_RETRY_POLICY } from '../../sinks/retrying-store.ts';
import type { FileStore } from '../../sinks/file-store.ts';
import { fileSink } from '../../sinks/file-sink.ts';
import { RetailStreamsError } from '../../topology/api/errors.ts';
import type { Logger } from '../../topology/api/log.ts';
import type { RetryPolicy } from '../../topology/internals/retry.ts';
import { memoryLog } from '../support/memory-log.ts';

/** The sink's policy, with delays short enough for a test. */
const fast: RetryPolicy = { ...SINK_RETRY_POLICY, initialDelayMs: 5, factor: 2, maxDelayMs: 20, giveUpAfterMs: 5_000 };

const down = () => new RetailStreamsError('sink-unavailable', 'WebHDFS CREATE /x: connect ECONNREFUSED');

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

describe('RetryingFileStore gives up as the sink does', () => {
  it('wraps an outage that outlasts the policy in a sink-unavailable error that says how long it lasted', async () => {
    const { store, state } = flakyStore();
    const { log, lines } = memoryLog();
    state.outage = true;
    const e = (await new RetryingFileStore(store, log, { ...fast, maxRetries: 3 }).writeFile('f', 'x').catch((x: unknown) => x)) as RetailStreamsError;
    expect(state.calls).toBe(4);
    expect(e).toBeInstanceOf(RetailStreamsError);
    expect(e.code).toBe('sink-unavailable');
    expect(e.message).toMatch(/^write f: still failing after 4 attempts over \d+ms, giving up: WebHDFS CREATE \/x: connect ECONNREFUSED$/);
    expect(lines.filter((l) => l.startsWith('warn'))).toHaveLength(3);
    expect(lines.at(-1)).toBe(`error ${e.message}`);
  });

  it('also under a policy that names no error code', async () => {
    const { store, state } = flakyStore();
    state.outage = true;
    const { giveUpAs: _, ...timingsOnly } = fast;
    const e = (await new RetryingFileStore(store, memoryLog().log, { ...timingsOnly, maxRetries: 1 }).delete('f').catch((x: unknown) => x)) as RetailStreamsError;
    expect(e.code).toBe('sink-unavailable');
    expect(e.message).toMatch(/^delete f: still failing after 2 attempts/);
  });

  it('does not retry a failure that is not retriable', async () => {
    const refused = new RetailStreamsError('io', 'WebHDFS MKDIRS /x: HTTP 403 AccessControlException: Permission denied');
    let calls = 0;
    const store: FileStore = {
      ...flakyStore().store,
      async mkdirs() {
        calls++;
        throw refused;
      },
    };
    await expect(new RetryingFileStore(store, memoryLog().log, fast).mkdirs('x')).rejects.toBe(refused);
    expect(calls).toBe(1);
  });
});
