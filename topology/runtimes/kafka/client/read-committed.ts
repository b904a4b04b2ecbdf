/**
 * read_committed on our side of the client seam. A fetch at isolation level read_committed
 * returns records up to the last stable offset, but it is the consumer that must drop the
 * records of aborted transactions (the Java consumer does it with the fetch's list of aborted
 * transactions). Clients get this wrong in ways this project has met (kafkajs enters at most
 * one aborted transaction per record it looks at), so every adapter hands its raw records,
 * control records included, to `readCommitted`.
 *
 * Two ways to decide a transactional record:
 * - with the fetch's aborted-transaction list (`abortedTransactions`), as the Java consumer:
 *   every aborted transaction whose first offset is at or before a record is entered before the
 *   record is judged, and the producer's ABORT marker ends it. A record below the last stable
 *   offset that no aborted range covers is committed. Nothing is left undecided.
 * - without it (kafkajs keeps the list to itself): a producer has at most one open transaction,
 *   so a transactional record belongs to the transaction that the producer's next control record
 *   in the log ends; COMMIT keeps it, ABORT drops it. A record whose marker is not in this fetch
 *   (the fetch stopped at its size limit, or at the last stable offset of another producer's open
 *   transaction) is undecided: delivery stops before it, and the partition is fetched again from
 *   there. Read_committed guarantees the marker exists below the last stable offset, so a later
 *   fetch decides it; until then the partition waits, as long as an overlapping transaction is open.
 */

export interface RawRecord {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly isControlRecord?: boolean;
  readonly batchContext: { readonly producerId: string; readonly inTransaction: boolean };
}

export interface AbortedTransaction {
  readonly producerId: string;
  readonly firstOffset: string;
}

export interface Decided<R> {
  /** Records to deliver, in order: data records (no control records) committed or not transactional. */
  readonly records: R[];
  /**
   * The last offset decided, control records and dropped records included: consumption may be
   * resolved up to it. Undefined when the first record is undecided.
   */
  readonly lastDecided: string | undefined;
  /** The first undecided record's offset, when delivery stopped before the end of the fetch. */
  readonly undecidedFrom: string | undefined;
}

/** A control record's key is version (int16) then type (int16): 0 is ABORT, 1 is COMMIT. */
const controlType = (key: Buffer | null): 'abort' | 'commit' | undefined => {
  if (key === null || key.length < 4) return undefined;
  const t = key.readInt16BE(2);
  return t === 0 ? 'abort' : t === 1 ? 'commit' : undefined;
};

const compareOffsets = (a: string, b: string): number => {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

export function readCommitted<R extends RawRecord>(records: readonly R[], abortedTransactions?: readonly AbortedTransaction[]): Decided<R> {
  if (records.length === 0) return { records: [], lastDecided: undefined, undecidedFrom: undefined };
  return abortedTransactions === undefined ? byMarkers(records) : byAbortedList(records, abortedTransactions);
}

function byAbortedList<R extends RawRecord>(records: readonly R[], list: readonly AbortedTransaction[]): Decided<R> {
  const pending = [...list].sort((a, b) => compareOffsets(a.firstOffset, b.firstOffset));
  const aborting = new Set<string>();
  let next = 0;
  const kept: R[] = [];
  for (const r of records) {
    while (next < pending.length && compareOffsets(pending[next]!.firstOffset, r.offset) <= 0) aborting.add(pending[next++]!.producerId);
    const { producerId, inTransaction } = r.batchContext;
    if (r.isControlRecord === true) {
      if (controlType(r.key) === 'abort') aborting.delete(producerId);
    } else if (!(inTransaction && aborting.has(producerId))) kept.push(r);
  }
  return { records: kept, lastDecided: records[records.length - 1]!.offset, undecidedFrom: undefined };
}

function byMarkers<R extends RawRecord>(records: readonly R[]): Decided<R> {
  // Walk backwards: each producer's fate is the type of its next control record after a record.
  const fate = new Map<string, 'abort' | 'commit'>();
  const verdict = new Array<'keep' | 'drop' | 'undecided'>(records.length);
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    const { producerId, inTransaction } = r.batchContext;
    if (r.isControlRecord === true) {
      const t = controlType(r.key);
      if (t !== undefined) fate.set(producerId, t);
      verdict[i] = 'drop';
    } else if (!inTransaction) verdict[i] = 'keep';
    else {
      const f = fate.get(producerId);
      verdict[i] = f === undefined ? 'undecided' : f === 'commit' ? 'keep' : 'drop';
    }
  }
  const kept: R[] = [];
  for (let i = 0; i < records.length; i++) {
    const v = verdict[i]!;
    if (v === 'undecided') return { records: kept, lastDecided: i === 0 ? undefined : records[i - 1]!.offset, undecidedFrom: records[i]!.offset };
    if (v === 'keep') kept.push(records[i]!);
  }
  return { records: kept, lastDecided: records[records.length - 1]!.offset, undecidedFrom: undefined };
}
