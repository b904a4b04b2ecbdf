import { describe, expect, it } from 'vitest';
import { readCommitted, type RawRecord } from '../../../topology/runtimes/kafka/client/read-committed.ts';

// Records as a client decodes a fetch: offset, key, whether a control record, and the context of
// the record batch they came in (producer id, transactional or not); with the fetch's list of
// aborted transactions, as the broker sends it.
const data = (offset: number, producerId: string, inTransaction = true): RawRecord => ({ offset: String(offset), key: Buffer.from('k'), isControlRecord: false, batchContext: { producerId, inTransaction } });
const marker = (offset: number, producerId: string, type: 'ABORT' | 'COMMIT'): RawRecord => {
  const key = Buffer.alloc(4);
  key.writeInt16BE(type === 'ABORT' ? 0 : 1, 2);
  return { offset: String(offset), key, isControlRecord: true, batchContext: { producerId, inTransaction: true } };
};
const offsets = (records: readonly RawRecord[]) => records.map((r) => Number(r.offset));

describe('read_committed on our side of the client seam', () => {
  it('two aborted transactions of two producers, both begun before the fetch: neither passes, in whatever order the broker lists them', () => {
    // A began at 10 and B at 12 (before this fetch, which starts at 15); both aborted. C is not transactional.
    const fetched = [data(15, 'B'), data(16, 'A'), data(17, 'C', false), marker(18, 'A', 'ABORT'), marker(19, 'B', 'ABORT'), data(20, 'A'), marker(21, 'A', 'COMMIT')];
    const list = [{ producerId: 'A', firstOffset: '10' }, { producerId: 'B', firstOffset: '12' }];
    expect(offsets(readCommitted(fetched, list))).toEqual([17, 20]);
    expect(offsets(readCommitted(fetched, [...list].reverse()))).toEqual([17, 20]);
  });

  it('one producer with several aborted ranges around committed ones keeps only the committed ones', () => {
    const fetched = [data(30, 'A'), data(31, 'A'), marker(32, 'A', 'ABORT'), data(33, 'A'), marker(34, 'A', 'COMMIT'), data(35, 'A'), marker(36, 'A', 'ABORT'), data(37, 'B', false), data(38, 'A'), marker(39, 'A', 'ABORT'), data(40, 'A'), marker(41, 'A', 'COMMIT')];
    const list = [{ producerId: 'A', firstOffset: '30' }, { producerId: 'A', firstOffset: '35' }, { producerId: 'A', firstOffset: '38' }];
    expect(offsets(readCommitted(fetched, list))).toEqual([33, 37, 40]);
  });

  it('a range whose abort marker is in the next fetch is dropped now, and the rest of it in the next fetch', () => {
    // B's transaction from 42 was aborted; its marker at 46 is past this fetch's end (45).
    const list = [{ producerId: 'B', firstOffset: '42' }];
    expect(offsets(readCommitted([data(40, 'A', false), data(41, 'A', false), data(42, 'B'), data(43, 'A', false), data(44, 'B'), data(45, 'A', false)], list))).toEqual([40, 41, 43, 45]);
    expect(offsets(readCommitted([data(46, 'B'), marker(47, 'B', 'ABORT'), data(48, 'B', false)], list))).toEqual([48]);
  });

  it('a committed range whose marker is in the next fetch is delivered at once: no aborted range covers it', () => {
    expect(offsets(readCommitted([data(50, 'B'), data(51, 'A', false)], []))).toEqual([50, 51]);
  });

  it('a fetch that starts at an abort marker: the marker ends the range, what follows is judged on its own', () => {
    const fetched = [marker(60, 'A', 'ABORT'), data(61, 'A'), marker(62, 'A', 'COMMIT'), data(63, 'B', false)];
    expect(offsets(readCommitted(fetched, [{ producerId: 'A', firstOffset: '55' }]))).toEqual([61, 63]);
    expect(readCommitted([marker(60, 'A', 'ABORT')], [{ producerId: 'A', firstOffset: '55' }])).toEqual([]);
  });

  it('control records never reach the caller, with or without aborted transactions', () => {
    const fetched = [data(1, 'A'), marker(2, 'A', 'COMMIT'), data(3, 'B', false)];
    expect(offsets(readCommitted(fetched, []))).toEqual([1, 3]);
  });
});
