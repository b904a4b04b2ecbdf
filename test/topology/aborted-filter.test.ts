import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { filterAborted } from '../../topology/runtimes/kafka/aborted-filter.ts';

// Records as kafkajs decodes them from a fetch: offset, key, whether a control record, and the
// context of the record batch they came in.
const data = (offset: number, producerId: string, inTransaction = true) => ({ offset: String(offset), key: Buffer.from('k'), isControlRecord: false, batchContext: { producerId, inTransaction } });
const marker = (offset: number, producerId: string, type: 'ABORT' | 'COMMIT') => {
  const key = Buffer.alloc(4);
  key.writeInt16BE(type === 'ABORT' ? 0 : 1, 2);
  return { offset: String(offset), key, isControlRecord: true, batchContext: { producerId, inTransaction: true } };
};
const dataOffsets = (records: readonly { offset: string; isControlRecord: boolean }[]) => records.filter((r) => !r.isControlRecord).map((r) => Number(r.offset));

describe('records of aborted transactions in a read_committed fetch', () => {
  // Producers A and B each began a transaction (offsets 10 and 12) that was later aborted; the
  // fetch starts at 15, inside both. C writes without transactions.
  const fetched = [data(15, 'B'), data(16, 'A'), data(17, 'C', false), marker(18, 'A', 'ABORT'), marker(19, 'B', 'ABORT'), data(20, 'A'), marker(21, 'A', 'COMMIT')];
  const aborted = [{ producerId: 'A', firstOffset: '10' }, { producerId: 'B', firstOffset: '12' }];

  it('leaves out every transaction that had begun before the fetch, not only the first listed', () => {
    expect(dataOffsets(filterAborted({ messages: fetched, abortedTransactions: aborted }))).toEqual([17, 20]);
  });

  it('does not depend on the order the broker lists them in', () => {
    expect(dataOffsets(filterAborted({ messages: fetched, abortedTransactions: [...aborted].reverse() }))).toEqual([17, 20]);
  });

  it('keeps a producer\'s committed transaction between two of its aborted ones', () => {
    const records = [data(30, 'A'), marker(31, 'A', 'ABORT'), data(32, 'A'), marker(33, 'A', 'COMMIT'), data(34, 'A'), marker(35, 'A', 'ABORT'), data(36, 'B')];
    const list = [{ producerId: 'A', firstOffset: '30' }, { producerId: 'A', firstOffset: '34' }];
    expect(dataOffsets(filterAborted({ messages: records, abortedTransactions: list }))).toEqual([32, 36]);
  });

  it('keeps everything when nothing was aborted', () => {
    expect(filterAborted({ messages: fetched, abortedTransactions: [] })).toBe(fetched);
  });

  it('is the filter kafkajs batches use once installed (the test set-up installs it, as the CLI does)', () => {
    const require = createRequire(import.meta.url);
    const Batch = require('kafkajs/src/consumer/batch.js') as new (topic: string, fetchedOffset: string, partitionData: object) => { messages: { offset: string }[] };
    const batch = new Batch('t', '15', { partition: 0, highWatermark: '22', abortedTransactions: aborted, messages: fetched });
    expect(batch.messages.map((m) => Number(m.offset))).toEqual([17, 20]);
  });
});
