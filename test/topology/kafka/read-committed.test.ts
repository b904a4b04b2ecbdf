import { describe, expect, it } from 'vitest';
import { readCommitted, type RawRecord } from '../../../topology/runtimes/kafka/client/read-committed.ts';

// Records as a client decodes a fetch: offset, key, whether a control record, and the context of
// the record batch they came in (producer id, transactional or not).
const data = (offset: number, producerId: string, inTransaction = true): RawRecord => ({ offset: String(offset), key: Buffer.from('k'), isControlRecord: false, batchContext: { producerId, inTransaction } });
const marker = (offset: number, producerId: string, type: 'ABORT' | 'COMMIT'): RawRecord => {
  const key = Buffer.alloc(4);
  key.writeInt16BE(type === 'ABORT' ? 0 : 1, 2);
  return { offset: String(offset), key, isControlRecord: true, batchContext: { producerId, inTransaction: true } };
};
const offsets = (records: readonly RawRecord[]) => records.map((r) => Number(r.offset));

// Each case is judged twice: with the fetch's aborted-transaction list (as the Java consumer
// decides) and without it (from the markers alone, as the kafkajs adapter must).
describe('read_committed on our side of the client seam', () => {
  it('two aborted transactions of two producers, both begun before the fetch: neither passes', () => {
    // A began at 10 and B at 12 (before this fetch, which starts at 15); both aborted. C is not transactional.
    const fetched = [data(15, 'B'), data(16, 'A'), data(17, 'C', false), marker(18, 'A', 'ABORT'), marker(19, 'B', 'ABORT'), data(20, 'A'), marker(21, 'A', 'COMMIT')];
    const list = [{ producerId: 'A', firstOffset: '10' }, { producerId: 'B', firstOffset: '12' }];
    for (const decided of [readCommitted(fetched, list), readCommitted(fetched, [...list].reverse()), readCommitted(fetched)]) {
      expect(offsets(decided.records)).toEqual([17, 20]);
      expect(decided.lastDecided).toBe('21');
      expect(decided.undecidedFrom).toBeUndefined();
    }
  });

  it('one producer with several aborted ranges around a committed one keeps only the committed one', () => {
    const fetched = [data(30, 'A'), data(31, 'A'), marker(32, 'A', 'ABORT'), data(33, 'A'), marker(34, 'A', 'COMMIT'), data(35, 'A'), marker(36, 'A', 'ABORT'), data(37, 'B', false), data(38, 'A'), marker(39, 'A', 'ABORT')];
    const list = [{ producerId: 'A', firstOffset: '30' }, { producerId: 'A', firstOffset: '35' }, { producerId: 'A', firstOffset: '38' }];
    expect(offsets(readCommitted(fetched, list).records)).toEqual([33, 37]);
    expect(offsets(readCommitted(fetched).records)).toEqual([33, 37]);
  });

  it('a range whose marker is in the next fetch: with the list it is decided now; without, delivery stops before it and the next fetch decides', () => {
    // B's transaction from 42 was aborted, its marker at 46 is past this fetch's end (45).
    const first = [data(40, 'A', false), data(41, 'A', false), data(42, 'B'), data(43, 'A', false), data(44, 'B'), data(45, 'A', false)];
    expect(offsets(readCommitted(first, [{ producerId: 'B', firstOffset: '42' }]).records)).toEqual([40, 41, 43, 45]);
    const partial = readCommitted(first);
    expect(offsets(partial.records)).toEqual([40, 41]);
    expect(partial.lastDecided).toBe('41');
    expect(partial.undecidedFrom).toBe('42');
    // The partition is fetched again from 42, now up to the marker.
    const again = [data(42, 'B'), data(43, 'A', false), data(44, 'B'), data(45, 'A', false), marker(46, 'B', 'ABORT'), data(47, 'A', false)];
    const decided = readCommitted(again);
    expect(offsets(decided.records)).toEqual([43, 45, 47]);
    expect(decided.lastDecided).toBe('47');
  });

  it('a committed range whose marker is in the next fetch is delivered once decided, in order', () => {
    const first = [data(50, 'B'), data(51, 'A', false)];
    const waiting = readCommitted(first);
    expect(waiting.records).toEqual([]);
    expect(waiting.lastDecided).toBeUndefined();
    expect(waiting.undecidedFrom).toBe('50');
    // Not in the aborted list: committed, so the list decides it at once.
    expect(offsets(readCommitted(first, []).records)).toEqual([50, 51]);
    expect(offsets(readCommitted([...first, marker(52, 'B', 'COMMIT')]).records)).toEqual([50, 51]);
  });

  it('a fetch that starts at an abort marker: the marker is consumed, what follows is judged on its own', () => {
    const fetched = [marker(60, 'A', 'ABORT'), data(61, 'A'), marker(62, 'A', 'COMMIT'), data(63, 'B', false)];
    for (const decided of [readCommitted(fetched, [{ producerId: 'A', firstOffset: '55' }]), readCommitted(fetched)]) {
      expect(offsets(decided.records)).toEqual([61, 63]);
      expect(decided.lastDecided).toBe('63');
    }
    // Only the marker: nothing to deliver, consumption moves past it.
    const alone = readCommitted([marker(60, 'A', 'ABORT')]);
    expect(alone.records).toEqual([]);
    expect(alone.lastDecided).toBe('60');
  });

  it('non-transactional records pass as they are; an empty fetch decides nothing', () => {
    const fetched = [data(1, 'A', false), data(2, 'B', false)];
    expect(readCommitted(fetched).records).toEqual(fetched);
    expect(readCommitted([])).toEqual({ records: [], lastDecided: undefined, undecidedFrom: undefined });
  });
});
