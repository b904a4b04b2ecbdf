import { writeSync } from 'node:fs';
import type { FaultHooks } from './config.ts';

/** The fault hook's state in one committer: commits so far and faults injected. */
export interface FaultCounter {
  readonly hooks: FaultHooks;
  commits: number;
  injected: number;
}

/**
 * Commits a transaction, or, under the `txnUnknownEvery` fault hook, makes every Nth commit fail
 * with an unknown outcome: alternately after it went through and before it was sent.
 */
export async function commitOrFault(txn: { commit(): Promise<void> }, f: FaultCounter): Promise<void> {
  const every = f.hooks.txnUnknownEvery;
  if (every === undefined || !(every > 0) || ++f.commits % every !== 0) return txn.commit();
  const committed = f.injected++ % 2 === 0;
  if (committed) await txn.commit();
  writeSync(2, `fault hook txnUnknownEvery: commit ${f.commits} fails ${committed ? 'after' : 'before'} committing\n`);
  throw new Error(`injected fault: commit ${committed ? 'done' : 'not sent'}, outcome unknown to the caller`);
}
