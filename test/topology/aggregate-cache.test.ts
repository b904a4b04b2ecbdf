import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { StreamsBuilder } from '../../topology/api/builder.ts';
import { Serdes, type Serde } from '../../topology/api/serdes.ts';
import { TimeWindows } from '../../topology/api/windows.ts';
import { CACHE_MAX_ENTRIES } from '../../topology/internals/operators.ts';
import { TopologyTestDriver } from '../../topology/runtimes/test-driver.ts';
import type { Windowed } from '../../state-stores/api.ts';

// The DSL aggregates' record cache, as Kafka Streams' caching in front of a DSL store: updates of
// a key collapse until the task flushes (the end of each batch), `caching: false` forwards each.
const str = Serdes.string as Serde<string>;
const num = Serdes.json<number>();
const windowed = Serdes.json<Windowed<string>>();
const windows = TimeWindows.tumbling(60_000, 10_000);

function windowedCount(caching?: boolean) {
  const b = new StreamsBuilder();
  b.stream<string, string>('in', { keySerde: str, valueSerde: str })
    .groupByKey()
    .windowedBy(windows)
    .count({ storeName: 'counts', ...(caching === undefined ? {} : { caching }) })
    .toStream()
    .to('out', { keySerde: windowed, valueSerde: num });
  return b.build();
}

function plainCount(caching?: boolean) {
  const b = new StreamsBuilder();
  b.stream<string, string>('in', { keySerde: str, valueSerde: str })
    .groupByKey()
    .count({ storeName: 'counts', ...(caching === undefined ? {} : { caching }) })
    .toStream()
    .to('out', { keySerde: str, valueSerde: num });
  return b.build();
}

const at = (key: string, timestamp: number) => ({ key, value: 'x', options: { timestamp, partition: 0 } });

describe('the record cache of DSL aggregates', () => {
  it('forwards the latest update of each key and window once per batch, keys in the order they first changed, each with its last record time', () => {
    const driver = new TopologyTestDriver(windowedCount(), { partitions: { in: 1 } });
    const input = driver.createInputTopic('in', str, str);
    const out = driver.createOutputTopic('out', windowed, num);
    input.pipeBatch([at('b', 1_000), at('a', 2_000), at('b', 3_000), at('a', 61_000), at('b', 4_000)]);
    expect(out.readRecordsToList().map((r) => [r.key.key, r.key.start, r.value, r.timestamp])).toEqual([
      ['b', 0, 3, 4_000],
      ['a', 0, 1, 2_000],
      ['a', 60_000, 1, 61_000],
    ]);
    // The next batch starts from the stored aggregate, and forwards again.
    input.pipeBatch([at('b', 5_000)]);
    expect(out.readKeyValuesToList().map(([k, v]) => [k.key, k.start, v])).toEqual([['b', 0, 4]]);
  });

  it('forwards every update with caching: false, as Kafka Streams with caching disabled', () => {
    const driver = new TopologyTestDriver(windowedCount(false), { partitions: { in: 1 } });
    const input = driver.createInputTopic('in', str, str);
    const out = driver.createOutputTopic('out', windowed, num);
    input.pipeBatch([at('b', 1_000), at('a', 2_000), at('b', 3_000)]);
    expect(out.readKeyValuesToList().map(([k, v]) => [k.key, v])).toEqual([['b', 1], ['a', 1], ['b', 2]]);
  });

  it('collapses the updates of a non-windowed aggregate the same way, and not across batches', () => {
    for (const caching of [undefined, false]) {
      const driver = new TopologyTestDriver(plainCount(caching), { partitions: { in: 1 } });
      const input = driver.createInputTopic('in', str, str);
      const out = driver.createOutputTopic('out', str, num);
      input.pipeBatch([at('a', 1), at('a', 2), at('c', 3), at('a', 4)]);
      input.pipeInput('c', 'x', { timestamp: 5, partition: 0 });
      expect(out.readKeyValuesToList()).toEqual(caching === false ? [['a', 1], ['a', 2], ['c', 1], ['a', 3], ['c', 2]] : [['a', 3], ['c', 1], ['c', 2]]);
    }
  });

  it('holds at most CACHE_MAX_ENTRIES keys: a larger batch forwards early, losing no key and repeating none needlessly', () => {
    const driver = new TopologyTestDriver(plainCount(), { partitions: { in: 1 } });
    const input = driver.createInputTopic('in', str, str);
    const out = driver.createOutputTopic('out', str, num);
    const keys = CACHE_MAX_ENTRIES + 500;
    input.pipeBatch(Array.from({ length: keys }, (_, i) => at(`k${i}`, i)));
    const got = out.readKeyValuesToList();
    expect(got.length).toBe(keys);
    expect(new Set(got.map(([k]) => k)).size).toBe(keys);
  });

  it('whatever the batches, the latest update per key and window equals the per-record result, and each forwarded value is one the key really had', () => {
    const rec = fc.record({ key: fc.constantFrom('a', 'b', 'c'), timestamp: fc.integer({ min: 0, max: 400_000 }) });
    fc.assert(
      fc.property(fc.array(rec, { maxLength: 80 }), fc.integer({ min: 1, max: 20 }), (records, size) => {
        const run = (batch: number, caching: boolean) => {
          const driver = new TopologyTestDriver(windowedCount(caching), { partitions: { in: 1 } });
          const input = driver.createInputTopic('in', str, str);
          const out = driver.createOutputTopic('out', windowed, num);
          for (let i = 0; i < records.length; i += batch) input.pipeBatch(records.slice(i, i + batch).map((r) => at(r.key, r.timestamp)));
          const seq = new Map<string, number[]>();
          for (const [k, v] of out.readKeyValuesToList()) {
            const id = `${k.start}|${k.key}`;
            seq.set(id, [...(seq.get(id) ?? []), v]);
          }
          return { seq, late: driver.metric('late-records') };
        };
        const every = run(1, false);
        const cached = run(size, true);
        expect(cached.late).toBe(every.late);
        expect([...cached.seq.keys()].sort()).toEqual([...every.seq.keys()].sort());
        for (const [id, values] of cached.seq) {
          const all = every.seq.get(id)!;
          expect(values.at(-1)).toBe(all.at(-1));
          // Strictly increasing, each one of the per-record updates: collapsed, never invented or repeated.
          values.forEach((v, i) => {
            expect(all).toContain(v);
            if (i > 0) expect(v).toBeGreaterThan(values[i - 1]!);
          });
        }
      }),
      { numRuns: 150 },
    );
  });
});
