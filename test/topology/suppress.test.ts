import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { StreamsBuilder } from '../../topology/api/builder.ts';
import { Serdes, type Serde } from '../../topology/api/serdes.ts';
import { TimeWindows } from '../../topology/api/windows.ts';
import type { Cancellable, Processor, ProcessorContext } from '../../topology/api/processor.ts';
import type { StreamRecord } from '../../topology/api/record.ts';
import type { Topology } from '../../topology/internals/compile.ts';
import { TopologyTestDriver } from '../../topology/runtimes/test-driver.ts';
import type { ChangelogEntry, KeyValueStore, StateStore, Windowed } from '../../state-stores/api.ts';

const str = Serdes.string as Serde<string>;
const num = Serdes.json<number>();
const windowedStr = Serdes.json<Windowed<string>>();

/** in -> groupByKey -> windowedBy(windows) -> count -> suppress -> out. */
function suppressedCount(windows: TimeWindows): Topology {
  const b = new StreamsBuilder();
  b.stream<string, number>('in', { keySerde: str, valueSerde: num })
    .groupByKey()
    .windowedBy(windows)
    .count()
    .suppressUntilWindowCloses()
    .toStream()
    .to('out', { keySerde: windowedStr, valueSerde: num });
  return b.build();
}
const SUPPRESS = 'KTABLE-SUPPRESS-0000000003';
const SUPPRESS_STORE = `${SUPPRESS}-store`;

interface Final {
  readonly key: Windowed<string>;
  readonly value: number;
  readonly timestamp: number;
}

const byWindowThenKey = (a: Final, b: Final) => a.key.start - b.key.start || (a.key.key < b.key.key ? -1 : a.key.key > b.key.key ? 1 : 0);

/**
 * What suppress(count) must emit, worked out from the windowing rules alone: stream time is the
 * largest timestamp so far; a record counts in every window [start, start + size) on the advance
 * grid holding it unless stream time has reached that window's end + grace; a window is emitted
 * once, when stream time first reaches its end + grace. One list of finals per input record.
 */
function reference(windows: TimeWindows, input: readonly { key: string; timestamp: number }[]): { perRecord: Final[][]; atEnd: Final[] } {
  const open = new Map<string, { key: Windowed<string>; value: number; timestamp: number }>();
  let streamTime = Number.NEGATIVE_INFINITY;
  const closeUpTo = (t: number): Final[] => {
    const out: Final[] = [];
    for (const [id, w] of open) {
      if (t >= w.key.end + windows.graceMs) {
        out.push(w);
        open.delete(id);
      }
    }
    return out.sort(byWindowThenKey);
  };
  const perRecord: Final[][] = [];
  for (const { key, timestamp } of input) {
    streamTime = Math.max(streamTime, timestamp);
    const emitted = closeUpTo(streamTime);
    for (let start = Math.floor(timestamp / windows.advanceMs) * windows.advanceMs; start > timestamp - windows.sizeMs; start -= windows.advanceMs) {
      const end = start + windows.sizeMs;
      if (streamTime >= end + windows.graceMs) continue;
      const id = `${start}/${key}`;
      const w = open.get(id);
      open.set(id, { key: { key, start, end }, value: (w?.value ?? 0) + 1, timestamp });
    }
    perRecord.push(emitted);
  }
  return { perRecord, atEnd: closeUpTo(Number.POSITIVE_INFINITY) };
}

describe('suppressUntilWindowCloses through the test driver', () => {
  const windows = TimeWindows.hopping(20, 5, 7);

  it('registers a logged store named after the node, the same in every build', () => {
    const topology = suppressedCount(windows);
    expect(topology.describe()).toContain(`Processor: ${SUPPRESS} (stores: [${SUPPRESS_STORE}])`);
    expect(topology.stores.get(SUPPRESS_STORE)?.logged).toBe(true);
    expect(suppressedCount(windows).describe()).toBe(topology.describe());
    const named = new StreamsBuilder();
    named.stream<string, number>('in').groupByKey().windowedBy(windows).count().suppressUntilWindowCloses('finals').toStream().to('out');
    expect([...named.build().stores.keys()]).toContain('finals-store');
  });

  it('emits each hopping window of a count exactly once, when it closes, with the reference values', () => {
    const record = fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd'), timestamp: fc.integer({ min: 0, max: 300 }) });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 60 }), (input) => {
        const driver = new TopologyTestDriver(suppressedCount(windows));
        const topic = driver.createInputTopic('in', str, num);
        const output = driver.createOutputTopic('out', windowedStr, num);
        const expected = reference(windows, input);
        const read = () => output.readRecordsToList().map(({ key, value, timestamp }) => ({ key, value, timestamp }));
        input.forEach((r, i) => {
          topic.pipeInput(r.key, 1, { timestamp: r.timestamp });
          expect(read()).toEqual(expected.perRecord[i]);
        });
        driver.endOfInput();
        expect(read()).toEqual(expected.atEnd);
        driver.endOfInput();
        expect(read()).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it('emits the same finals when the records come in batches: the count caches its updates within a batch, yet a window closing mid-batch gets its final value', () => {
    const record = fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd'), timestamp: fc.integer({ min: 0, max: 300 }) });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 60 }), fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 20 }), (input, sizes) => {
        const driver = new TopologyTestDriver(suppressedCount(windows));
        const topic = driver.createInputTopic('in', str, num);
        const output = driver.createOutputTopic('out', windowedStr, num);
        const expected = reference(windows, input);
        const read = () => output.readRecordsToList().map(({ key, value, timestamp }) => ({ key, value, timestamp }));
        for (let from = 0, i = 0; from < input.length; from += sizes[i++ % sizes.length]!) {
          const to = Math.min(input.length, from + sizes[i % sizes.length]!);
          topic.pipeBatch(input.slice(from, to).map((r) => ({ key: r.key, value: 1, options: { timestamp: r.timestamp } })));
          expect(read()).toEqual(expected.perRecord.slice(from, to).flat());
        }
        driver.endOfInput();
        expect(read()).toEqual(expected.atEnd);
      }),
      { numRuns: 150 },
    );
  });
});

/** Just enough of a task to run one processor: a store, stream time and stream-time punctuation. */
function harness<K, V>(processor: Processor<K, V, K, V>, stores: ReadonlyMap<string, StateStore>) {
  const forwarded: StreamRecord<K, V>[] = [];
  const punctuators: ((t: number) => void)[] = [];
  let streamTime = Number.NEGATIVE_INFINITY;
  const ctx: ProcessorContext<K, V> = {
    taskId: '0_0',
    partition: 0,
    forward: (r) => void forwarded.push(r),
    getStateStore: <S extends StateStore>(name: string) => {
      const s = stores.get(name);
      if (s === undefined) throw new Error(`no store ${name}`);
      return s as S;
    },
    schedule: (_intervalMs, type, callback): Cancellable => {
      if (type === 'stream-time') punctuators.push(callback);
      return { cancel: () => {} };
    },
    streamTime: () => streamTime,
    currentWallClock: () => 0,
    origin: () => undefined,
    commit: () => {},
    count: () => {},
  };
  processor.init?.(ctx);
  return {
    process: (r: StreamRecord<K, V>) => processor.process(r),
    advance: (t: number) => {
      streamTime = t;
      for (const p of punctuators) p(t);
    },
    /** What was forwarded since the last call. */
    take: () => forwarded.splice(0),
  };
}

type Pending = { start: number; key: string; value: number };
type SuppressStore = KeyValueStore<string, { key: Windowed<string>; value: number; timestamp: number }>;

/** The suppress node and its store exactly as the builder wires them. */
function suppressParts(windows: TimeWindows) {
  const topology = suppressedCount(windows);
  const node = topology.nodes.get(SUPPRESS);
  if (node?.kind !== 'processor') throw new Error(`${SUPPRESS} is not a processor`);
  const storeBuilder = topology.stores.get(SUPPRESS_STORE)!;
  return {
    newProcessor: () => node.supplier() as Processor<Windowed<string>, number, Windowed<string>, number>,
    newStore: () => storeBuilder.build() as SuppressStore,
  };
}

const asFinal = (r: StreamRecord<Windowed<string>, number>) => `${r.key.start}/${r.key.key}=${r.value}`;

describe('suppress buffer durability', () => {
  const windows = TimeWindows.tumbling(10, 5);
  const parts = suppressParts(windows);
  const run = (processor: Processor<Windowed<string>, number, Windowed<string>, number>, store: SuppressStore) =>
    harness(processor, new Map([[SUPPRESS_STORE, store]]));

  it('a processor restored from the changelog emits every pending window once, and none already emitted', () => {
    const store = parts.newStore();
    const first = run(parts.newProcessor(), store);
    const changelog: ChangelogEntry[] = [];
    const put = (p: Pending, timestamp: number) => first.process({ key: { key: p.key, start: p.start, end: p.start + 10 }, value: p.value, timestamp });
    first.advance(0);
    put({ start: 0, key: 'a', value: 1 }, 1);
    put({ start: 0, key: 'b', value: 1 }, 2);
    put({ start: 0, key: 'a', value: 2 }, 3);
    put({ start: 10, key: 'a', value: 1 }, 11);
    changelog.push(...store.drainChanges());
    first.advance(15); // [0, 10) closes at 10 + 5
    expect(first.take().map(asFinal)).toEqual(['0/a=2', '0/b=1']);
    put({ start: 10, key: 'b', value: 1 }, 16);
    put({ start: 20, key: 'c', value: 1 }, 22);
    put({ start: 10, key: 'a', value: 2 }, 18);
    put({ start: 30, key: 'a', value: 7 }, 30);
    changelog.push(...store.drainChanges());
    // The emitted finals' deletes are in the changelog, so a restore does not bring them back.
    expect(changelog.filter((e) => e.value === null).map((e) => e.key).sort()).toEqual(['0|"a"', '0|"b"']);

    // The task moves to another process: a fresh store, restored from the changelog alone.
    const restored = parts.newStore();
    for (const e of changelog) restored.restore(e);
    expect(restored.size()).toBe(4);
    const second = run(parts.newProcessor(), restored);
    expect(second.take()).toEqual([]);
    second.advance(15);
    expect(second.take()).toEqual([]);
    second.advance(24);
    expect(second.take()).toEqual([]);
    second.advance(25);
    expect(second.take()).toEqual([
      { key: { key: 'a', start: 10, end: 20 }, value: 2, timestamp: 18 },
      { key: { key: 'b', start: 10, end: 20 }, value: 1, timestamp: 16 },
    ]);
    second.advance(100);
    expect(second.take().map(asFinal)).toEqual(['20/c=1', '30/a=7']);
    second.advance(1000);
    expect(second.take()).toEqual([]);
    expect(restored.size()).toBe(0);
    expect(
      restored
        .drainChanges()
        .map((e) => [e.key, e.value])
        .sort(),
    ).toEqual([
      ['10|"a"', null],
      ['10|"b"', null],
      ['20|"c"', null],
      ['30|"a"', null],
    ]);
  });

  it('drops a record for a closed window, and keeps nothing of it in the store', () => {
    const store = parts.newStore();
    const p = run(parts.newProcessor(), store);
    p.advance(15);
    p.process({ key: { key: 'a', start: 0, end: 10 }, value: 1, timestamp: 3 });
    expect(store.size()).toBe(0);
    expect(store.drainChanges()).toEqual([]);
    p.advance(1000);
    expect(p.take()).toEqual([]);
  });

  it('survives restore at any point of a random run: every window and key emitted once, with its latest value', () => {
    const step = fc.oneof(
      { weight: 4, arbitrary: fc.record({ op: fc.constant('put' as const), start: fc.integer({ min: 0, max: 9 }).map((i) => i * 10), key: fc.constantFrom('a', 'b', 'c'), value: fc.integer() }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), by: fc.integer({ min: 1, max: 30 }) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('move' as const) }) },
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const changelog: ChangelogEntry[] = [];
        let store = parts.newStore();
        let p = run(parts.newProcessor(), store);
        let now = 0;
        p.advance(now);
        const latest = new Map<string, number>();
        const emitted: string[] = [];
        const expected: string[] = [];
        for (const s of steps) {
          if (s.op === 'put') {
            const end = s.start + 10;
            p.process({ key: { key: s.key, start: s.start, end }, value: s.value, timestamp: now });
            if (now < end + 5) latest.set(`${s.start}/${s.key}`, s.value);
          } else if (s.op === 'advance') {
            now += s.by;
            p.advance(now);
          } else {
            changelog.push(...store.drainChanges());
            store = parts.newStore();
            for (const e of changelog) store.restore(e);
            p = run(parts.newProcessor(), store);
            p.advance(now);
          }
          emitted.push(...p.take().map(asFinal));
        }
        p.advance(Number.POSITIVE_INFINITY);
        emitted.push(...p.take().map(asFinal));
        for (const [id, value] of latest) expected.push(`${id}=${value}`);
        expect([...emitted].sort()).toEqual(expected.sort());
        expect(store.size()).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});

describe('a large suppress buffer', () => {
  it('emits window by window, reading only the entries that close', () => {
    const windows = TimeWindows.tumbling(10, 0);
    const parts = suppressParts(windows);
    const store = parts.newStore();
    let reads = 0;
    const get = store.get.bind(store);
    store.get = (k) => {
      reads++;
      return get(k);
    };
    const all = store.all.bind(store);
    store.all = () => {
      reads += store.size();
      return all();
    };
    const p = harness(parts.newProcessor(), new Map([[SUPPRESS_STORE, store]]));
    const windowCount = 500;
    const keysPerWindow = 100;
    const keyName = (i: number) => `k${String(i).padStart(3, '0')}`;
    p.advance(0);
    // Windows arrive out of order, so the index has to insert ends in the middle.
    for (let w = 0; w < windowCount; w++) {
      const start = ((w * 7919) % windowCount) * 10;
      for (let k = keysPerWindow - 1; k >= 0; k--) p.process({ key: { key: keyName(k), start, end: start + 10 }, value: start + k, timestamp: start });
    }
    expect(store.size()).toBe(windowCount * keysPerWindow);
    reads = 0;
    for (let w = 0; w < windowCount; w++) {
      p.advance(w * 10 + 10);
      const out = p.take();
      expect(out).toHaveLength(keysPerWindow);
      for (let k = 0; k < keysPerWindow; k++) {
        const r = out[k]!;
        expect(r.key).toEqual({ key: keyName(k), start: w * 10, end: w * 10 + 10 });
        expect(r.value).toBe(w * 10 + k);
      }
    }
    expect(reads).toBe(windowCount * keysPerWindow);
    expect(store.size()).toBe(0);
    p.advance(Number.POSITIVE_INFINITY);
    expect(p.take()).toEqual([]);
  });

  it('touches nothing when stream time advances without closing a window', () => {
    const parts = suppressParts(TimeWindows.tumbling(1000, 0));
    const store = parts.newStore();
    const p = harness(parts.newProcessor(), new Map([[SUPPRESS_STORE, store]]));
    p.advance(0);
    for (let k = 0; k < 50_000; k++) p.process({ key: { key: `k${k}`, start: 0, end: 1000 }, value: k, timestamp: 0 });
    let reads = 0;
    store.get = () => {
      reads++;
      return undefined;
    };
    store.all = () => {
      reads++;
      return [];
    };
    for (let t = 1; t < 1000; t++) p.advance(t);
    expect(reads).toBe(0);
    expect(p.take()).toEqual([]);
  });
});
