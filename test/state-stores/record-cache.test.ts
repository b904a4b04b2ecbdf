import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RecordCache } from '../../state-stores/record-cache.ts';

type Spilled = (readonly [string, string | null])[];

const cache = (maxBytes: number) => {
  const batches: Spilled[] = [];
  const c = new RecordCache<number>(maxBytes, (entries) => void batches.push([...entries]));
  return { c, batches };
};

const put = (c: RecordCache<number>, key: string, value: number) => c.write(key, value, String(value));

describe('RecordCache', () => {
  it('dedupes writes per key: one dirty entry, its latest value', () => {
    const { c, batches } = cache(1 << 20);
    for (let i = 0; i < 100; i++) put(c, 'k', i);
    put(c, 'other', 1);
    expect(c.size).toBe(2);
    expect(c.dirtySize).toBe(2);
    expect(c.lookup('k')?.value).toBe(99);
    expect(c.takeDirty()).toEqual([
      ['k', '99'],
      ['other', '1'],
    ]);
    expect(c.takeDirty()).toEqual([]);
    expect(batches).toEqual([]);
  });

  it('flushes dirty entries least recently written first, deletes as null, clean ones not at all', () => {
    const { c } = cache(1 << 20);
    put(c, 'a', 1);
    put(c, 'b', 2);
    c.fill('read', 7, '7');
    put(c, 'c', 3);
    put(c, 'a', 4);
    c.write('b', undefined, null);
    expect(c.takeDirty()).toEqual([
      ['c', '3'],
      ['a', '4'],
      ['b', null],
    ]);
    // Taken entries are clean and still cached.
    expect(c.lookup('a')).toMatchObject({ value: 4, dirty: false });
    expect(c.lookup('b')).toMatchObject({ value: undefined, encoded: null });
  });

  it('caches known misses', () => {
    const { c } = cache(1 << 20);
    expect(c.lookup('absent')).toBeUndefined();
    c.fill('absent', undefined, null);
    expect(c.lookup('absent')).toMatchObject({ value: undefined, dirty: false });
    expect(c.hits).toBe(1);
    expect(c.misses).toBe(1);
    expect(c.hitRate()).toBe(0.5);
  });

  it('never holds more than its bound in bytes, spilling the dirty entries it evicts in batches (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 8192 }),
        fc.array(fc.tuple(fc.constantFrom('write', 'fill', 'read'), fc.integer({ min: 0, max: 200 }), fc.integer()), { maxLength: 400 }),
        (maxBytes, ops) => {
          const { c, batches } = cache(maxBytes);
          const latest = new Map<string, number>();
          for (const [op, k, v] of ops) {
            const key = `key-${k}`;
            if (op === 'write') {
              put(c, key, v);
              latest.set(key, v);
            } else if (op === 'fill') c.fill(key, v, String(v));
            else c.lookup(key);
            expect(c.byteSize).toBeLessThanOrEqual(maxBytes);
          }
          // Every write reaches disk exactly as last written: through a spill or the final flush.
          const disk = new Map<string, string | null>();
          for (const b of batches) for (const [k, v] of b) disk.set(k, v);
          for (const [k, v] of c.takeDirty()) disk.set(k, v);
          for (const [k, v] of latest) expect(disk.get(k)).toBe(String(v));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('evicts a tenth at a time, oldest first, giving entries read since a second chance', () => {
    // Entries of 'k00'..'k99' with a 1-char value: 96 + 6 + 4 = 106 bytes each.
    const { c, batches } = cache(106 * 50);
    for (let i = 0; i < 50; i++) put(c, `k${String(i).padStart(2, '0')}`, i % 10);
    expect(batches).toEqual([]);
    c.lookup('k00');
    put(c, 'k50', 0);
    // Over the bound by one: evicted down to 90%, i.e. six entries, k00 spared once.
    expect(batches).toHaveLength(1);
    expect(batches[0]!.map(([k]) => k)).toEqual(['k01', 'k02', 'k03', 'k04', 'k05', 'k06']);
    expect(c.lookup('k00')?.value).toBe(0);
    expect(c.byteSize).toBeLessThanOrEqual(106 * 45);
  });

  it('with no room at all writes every change through', () => {
    const { c, batches } = cache(0);
    put(c, 'a', 1);
    put(c, 'a', 2);
    expect(batches).toEqual([[['a', '1']], [['a', '2']]]);
    expect(c.size).toBe(0);
  });

  it('forgets an invalidated key', () => {
    const { c } = cache(1 << 20);
    put(c, 'a', 1);
    c.invalidate('a');
    expect(c.lookup('a')).toBeUndefined();
    expect(c.dirtySize).toBe(0);
    expect(c.byteSize).toBe(0);
  });
});
