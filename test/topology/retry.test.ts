import { describe, expect, it } from 'vitest';
import { BROKER_RETRY_POLICY, formatMs, retrying, type RetryPolicy } from '../../topology/internals/retry.ts';
import { RetailStreamsError } from '../../topology/api/errors.ts';
import type { Logger } from '../../topology/api/log.ts';
import { memoryLog } from '../support/memory-log.ts';

const fast: RetryPolicy = { initialDelayMs: 5, factor: 2, maxDelayMs: 20, giveUpAfterMs: 5_000 };

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

  it('gives up with an error of the giveUpAs code, never silently', async () => {
    const { log, lines } = memoryLog();
    let calls = 0;
    const e = (await retrying('write f', async () => {
      calls++;
      throw down();
    }, { ...fast, maxRetries: 3, giveUpAs: 'sink-unavailable' }, log).catch((x: unknown) => x)) as RetailStreamsError;
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
    }, { ...fast, giveUpAfterMs: 150, giveUpAs: 'sink-unavailable' }, log)).rejects.toThrow(/giving up/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('without giveUpAs, throws the last failure itself once the policy runs out', async () => {
    const { log, lines } = memoryLog();
    const failures = [new RetailStreamsError('broker-unreachable', 'first'), new RetailStreamsError('broker-unreachable', 'second'), new RetailStreamsError('broker-unreachable', 'third')];
    let calls = 0;
    const e = await retrying('send', async () => {
      throw failures[calls++]!;
    }, { ...fast, maxRetries: 2 }, log).catch((x: unknown) => x);
    expect(calls).toBe(3);
    expect(e).toBe(failures[2]);
    expect(lines.at(-1)).toBe('error send failed for good (attempt 3): third');
  });

  it('retries what `retriable` accepts, of any type, and throws the rest at once', async () => {
    const { log } = memoryLog();
    const transient = new Error('LEADER_NOT_AVAILABLE');
    const fatal = new Error('TOPIC_AUTHORIZATION_FAILED');
    const thrown = [transient, transient, fatal];
    let calls = 0;
    const policy: RetryPolicy = { ...fast, retriable: (e) => e === transient };
    await expect(retrying('fetch', async () => {
      throw thrown[calls++]!;
    }, policy, log)).rejects.toBe(fatal);
    expect(calls).toBe(3);
    // The default: only a RetailStreamsError that says it is retriable.
    calls = 0;
    await expect(retrying('fetch', async () => {
      calls++;
      throw transient;
    }, fast, log)).rejects.toBe(transient);
    expect(calls).toBe(1);
  });

  it('the broker policy retries any failure nine times', async () => {
    const { log } = memoryLog();
    let calls = 0;
    const e = new Error('NOT_LEADER_OR_FOLLOWER');
    await expect(retrying('send', async () => {
      calls++;
      throw e;
    }, { ...BROKER_RETRY_POLICY, initialDelayMs: 1, maxDelayMs: 1 }, log)).rejects.toBe(e);
    expect(calls).toBe(10);
  });

  it('warns at most once per warnEveryMs, in the words the caller chose', async () => {
    const { log, lines } = memoryLog();
    let calls = 0;
    await retrying('look-up', async () => {
      if (++calls <= 6) throw new Error('ECONNREFUSED');
      return calls;
    }, { ...fast, initialDelayMs: 1, maxDelayMs: 1, warnEveryMs: 60_000, retriable: () => true }, log, {
      retryingMessage: (f, ms) => `registry down (${f.failures} so far, next in ${ms}ms): ${(f.error as Error).message}`,
      succeededMessage: (f) => `registry back after ${f.failures} retries`,
    });
    expect(lines).toEqual(['warn registry down (1 so far, next in 1ms): ECONNREFUSED', 'info registry back after 6 retries']);
  });
});

describe('retrying with a signal', () => {
  const endless: RetryPolicy = { initialDelayMs: 5, factor: 2, maxDelayMs: 10, giveUpAfterMs: Number.POSITIVE_INFINITY, retriable: () => true };

  it('with no time limit retries until aborted, then rejects with the reason and tries no more', async () => {
    const { log, lines } = memoryLog();
    const stop = new AbortController();
    let calls = 0;
    const pending = retrying('wait', async () => {
      calls++;
      throw new Error('down');
    }, endless, log, { signal: stop.signal });
    await new Promise((r) => setTimeout(r, 60));
    const reason = new Error('closing');
    stop.abort(reason);
    await expect(pending).rejects.toBe(reason);
    const seen = calls;
    expect(seen).toBeGreaterThan(3);
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toBe(seen);
    expect(lines.filter((l) => l.startsWith('error'))).toEqual([]);
  });

  it('ends an attempt in flight', async () => {
    const stop = new AbortController();
    const pending = retrying('hang', () => new Promise<never>(() => {}), endless, memoryLog().log, { signal: stop.signal });
    setTimeout(() => stop.abort(), 10);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('already aborted: no attempt at all', async () => {
    const stop = new AbortController();
    stop.abort();
    let calls = 0;
    await expect(retrying('x', async () => void calls++, endless, memoryLog().log, { signal: stop.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toBe(0);
  });
});

describe('formatMs', () => {
  it('milliseconds, seconds, then minutes and seconds', () => {
    expect([formatMs(5), formatMs(1_500), formatMs(59_999), formatMs(61_000), formatMs(600_000)]).toEqual(['5ms', '1.5s', '60.0s', '1m01s', '10m00s']);
  });
});
