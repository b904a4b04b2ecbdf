/**
 * read_committed on our side of the client seam. A fetch at isolation level read_committed
 * returns records up to the last stable offset, but it is the consumer that must drop the
 * records of aborted transactions, from the fetch's list of aborted transactions, as the Java
 * consumer does: every aborted transaction whose first offset is at or before a record is
 * entered before the record is judged, and the producer's ABORT marker ends it. Clients get
 * this wrong in ways this project has met (kafkajs enters at most one aborted transaction per
 * record it looks at; @platformatic/kafka keeps one aborted range per producer and ignores a
 * range whose marker is in a later fetch), so an adapter hands its raw records, control records
 * included, and the list to `readCommitted`.
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

/** A control record's key is version (int16) then type (int16): 0 is ABORT, 1 is COMMIT. */
const isAbortMarker = (key: Buffer | null): boolean => key !== null && key.length >= 4 && key.readInt16BE(2) === 0;

const compareOffsets = (a: string, b: string): number => {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** The records to deliver, in order: data records (no control records) committed or not transactional. */
export function readCommitted<R extends RawRecord>(records: readonly R[], abortedTransactions: readonly AbortedTransaction[]): R[] {
  if (abortedTransactions.length === 0) {
    // The common case (no transactions, or none aborted in this range): no copy without a control record.
    let controls = false;
    for (let i = 0; i < records.length && !controls; i++) controls = records[i]!.isControlRecord === true;
    return controls ? records.filter((r) => r.isControlRecord !== true) : (records as R[]);
  }
  const pending = [...abortedTransactions].sort((a, b) => compareOffsets(a.firstOffset, b.firstOffset));
  const aborting = new Set<string>();
  let next = 0;
  const kept: R[] = [];
  for (const r of records) {
    while (next < pending.length && compareOffsets(pending[next]!.firstOffset, r.offset) <= 0) aborting.add(pending[next++]!.producerId);
    const { producerId, inTransaction } = r.batchContext;
    if (r.isControlRecord === true) {
      if (isAbortMarker(r.key)) aborting.delete(producerId);
    } else if (!(inTransaction && aborting.has(producerId))) kept.push(r);
  }
  return kept;
}
