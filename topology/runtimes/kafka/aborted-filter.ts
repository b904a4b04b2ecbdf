import { createRequire } from 'node:module';

/**
 * Records of aborted transactions, left out of a read_committed fetch the way the Java consumer
 * does it. kafkajs's own filter enters at most one aborted transaction per record it looks at,
 * in the order the broker lists them. A fetch that starts after the first offsets of two aborted
 * transactions (several transactional producers writing one partition, as every task writes the
 * repartition topic, and one of them aborting) then passes records of the second one on as if
 * committed: partials counted twice. Here every aborted transaction that has started by a
 * record's offset is entered before the record is judged.
 */

interface FetchedRecord {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly isControlRecord?: boolean;
  readonly batchContext: { readonly producerId: string; readonly inTransaction: boolean };
}

interface AbortedTransaction {
  readonly producerId: string;
  readonly firstOffset: string;
}

/** A control record's key is version (int16) then type (int16): 0 is ABORT, 1 is COMMIT. */
const isAbortMarker = (key: Buffer | null): boolean => key !== null && key.length >= 4 && key.readInt16BE(2) === 0;

/** Marks the replacement, which a module loader running the module twice (tests) would otherwise not recognise. */
const FIXED = Symbol.for('retail-streams.aborted-filter');

export function filterAborted<R extends FetchedRecord>({ messages, abortedTransactions }: { messages: R[]; abortedTransactions?: readonly AbortedTransaction[] }): R[] {
  if (abortedTransactions === undefined || abortedTransactions.length === 0) return messages;
  const pending = [...abortedTransactions].sort((a, b) => compareOffsets(a.firstOffset, b.firstOffset));
  const aborting = new Set<string>();
  let next = 0;
  const kept: R[] = [];
  for (const m of messages) {
    while (next < pending.length && compareOffsets(pending[next]!.firstOffset, m.offset) <= 0) aborting.add(pending[next++]!.producerId);
    const { producerId, inTransaction } = m.batchContext;
    if (m.isControlRecord === true) {
      // kafkajs drops control records itself after this filter; an ABORT ends the producer's transaction.
      if (isAbortMarker(m.key)) aborting.delete(producerId);
      kept.push(m);
    } else if (!(inTransaction && aborting.has(producerId))) {
      kept.push(m);
    }
  }
  return kept;
}

/** Offsets are int64 decimal strings. */
const compareOffsets = (a: string, b: string): number => {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * Puts filterAborted in place of kafkajs's filter. kafkajs's Batch keeps the filter it required
 * when it was loaded, so this must run before anything loads kafkajs's consumer: importing
 * `./install-aborted-filter.ts` first does it (the CLI, the package index and the test set-up).
 * Returns false when it is too late.
 */
export function installAbortedFilter(): boolean {
  const require = createRequire(import.meta.url);
  const filterPath = require.resolve('kafkajs/src/consumer/filterAbortedMessages.js');
  const batchPath = require.resolve('kafkajs/src/consumer/batch.js');
  if (isFixed(require.cache[filterPath]?.exports)) return true;
  if (require.cache[batchPath] !== undefined) return false;
  // A module record whose exports are ours: kafkajs's `require('./filterAbortedMessages')` finds it.
  const exports = Object.assign((args: Parameters<typeof filterAborted>[0]) => filterAborted(args), { [FIXED]: true });
  require.cache[filterPath] = { id: filterPath, filename: filterPath, loaded: true, exports, children: [], paths: [] } as unknown as NodeJS.Module;
  return true;
}

const isFixed = (f: unknown): boolean => typeof f === 'function' && (f as unknown as Record<symbol, unknown>)[FIXED] === true;

/** Whether installAbortedFilter ran before kafkajs's consumer was loaded. */
export function abortedFilterInstalled(): boolean {
  const require = createRequire(import.meta.url);
  return isFixed(require.cache[require.resolve('kafkajs/src/consumer/filterAbortedMessages.js')]?.exports);
}
