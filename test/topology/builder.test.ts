import { describe, expect, it } from 'vitest';
import { StreamsBuilder } from '../../topology/api/builder.ts';
import { Serdes, type Serde } from '../../topology/api/serdes.ts';
import { TimeWindows } from '../../topology/api/windows.ts';
import { TopologyError } from '../../topology/api/errors.ts';
import type { Processor, ProcessorContext } from '../../topology/api/processor.ts';
import type { RecordOrigin, StreamRecord } from '../../topology/api/record.ts';
import type { ExternalSink } from '../../topology/api/sink.ts';
import { TopologyTestDriver } from '../../topology/runtimes/test-driver.ts';
import { Stores } from '../../state-stores/stores.ts';
import type { KeyValueStore, Windowed } from '../../state-stores/api.ts';

const str = Serdes.string as Serde<string>;
const num = Serdes.json<number>();
const windowedStr = Serdes.json<Windowed<string>>();

/** A one-input, one-output topology around `body`, with a driver and typed topics. */
function pipeline<V2>(body: (b: StreamsBuilder) => void, valueSerde: Serde<V2>, options: ConstructorParameters<typeof TopologyTestDriver>[1] = {}) {
  const b = new StreamsBuilder();
  body(b);
  const driver = new TopologyTestDriver(b.build(), options);
  return { driver, input: driver.createInputTopic('in', str, num), output: driver.createOutputTopic('out', str, valueSerde) };
}

const source = (b: StreamsBuilder) => b.stream<string, number>('in', { keySerde: str, valueSerde: num });

/** in -> groupByKey -> windowedBy(windows) -> count [-> suppress] -> out. */
function windowed(windows: TimeWindows, suppress = false) {
  const b = new StreamsBuilder();
  const table = source(b).groupByKey().windowedBy(windows).count();
  (suppress ? table.suppressUntilWindowCloses() : table).toStream().to('out', { keySerde: windowedStr, valueSerde: num });
  const driver = new TopologyTestDriver(b.build());
  return { driver, input: driver.createInputTopic('in', str, num), output: driver.createOutputTopic('out', windowedStr, num) };
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, none was thrown');
}

describe('stateless operators', () => {
  it('filter keeps exactly the records whose predicate holds, with key, value and timestamp', () => {
    const { input, output } = pipeline((b) => source(b).filter((k, v) => v % 2 === 0 && k !== 'skip').to('out', { keySerde: str, valueSerde: num }), num);
    input.pipeInput('a', 1, { timestamp: 10 });
    input.pipeInput('b', 2, { timestamp: 20 });
    input.pipeInput('skip', 4, { timestamp: 30 });
    input.pipeInput('c', 6, { timestamp: 40 });
    expect(output.readRecordsToList()).toEqual([
      { key: 'b', value: 2, timestamp: 20, partition: 0 },
      { key: 'c', value: 6, timestamp: 40, partition: 0 },
    ]);
  });

  it('map replaces key and value and keeps the timestamp', () => {
    const { input, output } = pipeline((b) => source(b).map((k, v): [string, number] => [`${v}`, k.length]).to('out', { keySerde: str, valueSerde: num }), num);
    input.pipeInput('abc', 7, { timestamp: 5 });
    input.pipeInput('z', 8, { timestamp: 6 });
    expect(output.readRecordsToList()).toEqual([
      { key: '7', value: 3, timestamp: 5, partition: 0 },
      { key: '8', value: 1, timestamp: 6, partition: 0 },
    ]);
  });

  it('mapValues sees value and key, and leaves the key alone', () => {
    const { input, output } = pipeline((b) => source(b).mapValues((v, k) => `${k}=${v * 10}`).to('out', { keySerde: str, valueSerde: str }), str);
    input.pipeInput('x', 4, { timestamp: 1 });
    expect(output.readRecordsToList()).toEqual([{ key: 'x', value: 'x=40', timestamp: 1, partition: 0 }]);
  });

  it('flatMap emits zero, one or many records per input, in order', () => {
    const { input, output } = pipeline(
      (b) =>
        source(b)
          .flatMap((k, v) => Array.from({ length: v }, (_, i): [string, number] => [`${k}${i}`, i]))
          .to('out', { keySerde: str, valueSerde: num }),
      num,
    );
    input.pipeInput('a', 3, { timestamp: 100 });
    input.pipeInput('none', 0, { timestamp: 101 });
    input.pipeInput('b', 1, { timestamp: 102 });
    expect(output.readRecordsToList()).toEqual([
      { key: 'a0', value: 0, timestamp: 100, partition: 0 },
      { key: 'a1', value: 1, timestamp: 100, partition: 0 },
      { key: 'a2', value: 2, timestamp: 100, partition: 0 },
      { key: 'b0', value: 0, timestamp: 102, partition: 0 },
    ]);
  });

  it('peek runs its action on every record and forwards it unchanged', () => {
    const seen: [string, number][] = [];
    const { input, output } = pipeline((b) => source(b).peek((k, v) => void seen.push([k, v])).to('out', { keySerde: str, valueSerde: num }), num);
    input.pipeInput('a', 1, { timestamp: 1 });
    input.pipeInput('b', 2, { timestamp: 2 });
    expect(seen).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    expect(output.readKeyValuesToList()).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });

  it('selectKey replaces the key only', () => {
    const { input, output } = pipeline((b) => source(b).selectKey((k, v) => `${k}-${v}`).to('out', { keySerde: str, valueSerde: num }), num);
    input.pipeInput('a', 1, { timestamp: 9 });
    expect(output.readRecordsToList()).toEqual([{ key: 'a-1', value: 1, timestamp: 9, partition: 0 }]);
  });

  it('branch sends a record to the first matching branch only, and drops a record matching none', () => {
    const b = new StreamsBuilder();
    const [small, even, big] = source(b).branch(
      (_k, v) => v < 10,
      (_k, v) => v % 2 === 0,
      (_k, v) => v >= 100,
    );
    small!.to('small', { keySerde: str, valueSerde: num });
    even!.to('even', { keySerde: str, valueSerde: num });
    big!.to('big', { keySerde: str, valueSerde: num });
    const driver = new TopologyTestDriver(b.build());
    const input = driver.createInputTopic('in', str, num);
    // 4 matches both "small" and "even": the first wins. 51 matches nothing.
    for (const v of [4, 12, 51, 101, 7, 200]) input.pipeInput(`k${v}`, v, { timestamp: v });
    const read = (t: string) => driver.createOutputTopic(t, str, num).readValuesToList();
    expect(read('small')).toEqual([4, 7]);
    expect(read('even')).toEqual([12, 200]);
    expect(read('big')).toEqual([101]);
  });
});

describe('process: the Processor API inside the DSL', () => {
  /** Counts per key in a store; reports stream-time ticks and, on wall-clock ticks, every count. */
  const counter = (): Processor<string, number, string, string> => {
    let ctx: ProcessorContext<string, string>;
    let store: KeyValueStore<string, number>;
    return {
      init(c) {
        ctx = c;
        store = c.getStateStore<KeyValueStore<string, number>>('counts');
        c.schedule(10, 'stream-time', (t) => ctx.forward({ key: 'stream-time', value: String(t), timestamp: t }));
        c.schedule(1000, 'wall-clock', (t) => {
          for (const [k, n] of store.all()) ctx.forward({ key: k, value: `${n}@${t}`, timestamp: t });
        });
      },
      process(r) {
        store.put(r.key, (store.get(r.key) ?? 0) + 1);
      },
    };
  };

  function build() {
    return pipeline(
      (b) => {
        b.addStateStore(Stores.keyValueStore<string, number>('counts'));
        source(b).process(counter, { stores: ['counts'] }).to('out', { keySerde: str, valueSerde: str });
      },
      str,
      // The wall clock starts at 0, so punctuation times read as offsets from the start.
      { wallClockStart: 0 },
    );
  }

  it('fires a stream-time punctuator only when stream time advances by the interval', () => {
    const { driver, input, output } = build();
    input.pipeInput('a', 0, { timestamp: 100 });
    input.pipeInput('b', 0, { timestamp: 105 });
    input.pipeInput('a', 0, { timestamp: 103 }); // out of order: stream time stays 105
    input.pipeInput('a', 0, { timestamp: 109 });
    input.pipeInput('a', 0, { timestamp: 110 });
    input.pipeInput('b', 0, { timestamp: 99 });
    input.pipeInput('b', 0, { timestamp: 125 });
    expect(output.readKeyValuesToList()).toEqual([
      ['stream-time', '100'],
      ['stream-time', '110'],
      ['stream-time', '125'],
    ]);
    // Wall-clock time passing is not stream time.
    driver.advanceWallClock(500);
    expect(output.readKeyValuesToList()).toEqual([]);
    expect(driver.streamTimeOf('in', 0)).toBe(125);
  });

  it('fires a wall-clock punctuator on advanceWallClock, reading the store the processor wrote', () => {
    const { driver, input, output } = build();
    input.pipeInput('a', 0, { timestamp: 1 });
    input.pipeInput('b', 0, { timestamp: 1 });
    input.pipeInput('a', 0, { timestamp: 1 });
    output.readRecordsToList(); // the first stream-time tick
    driver.advanceWallClock(999);
    expect(output.readRecordsToList()).toEqual([]);
    driver.advanceWallClock(1);
    expect(output.readKeyValuesToList()).toEqual([
      ['a', '2@1000'],
      ['b', '1@1000'],
    ]);
    input.pipeInput('b', 0, { timestamp: 2 });
    driver.advanceWallClock(500);
    expect(output.readRecordsToList()).toEqual([]);
    driver.advanceWallClock(500);
    expect(output.readKeyValuesToList()).toEqual([
      ['a', '2@2000'],
      ['b', '2@2000'],
    ]);
  });

  it('tells a processor where each record came from, and nothing inside a punctuator', () => {
    const origins: (RecordOrigin | undefined)[] = [];
    const b = new StreamsBuilder();
    source(b).process<string, number>(() => {
      let ctx: ProcessorContext<string, number>;
      return {
        init(c) {
          ctx = c;
          c.schedule(1000, 'wall-clock', () => void origins.push(ctx.origin()));
        },
        process() {
          origins.push(ctx.origin());
        },
      };
    });
    const driver = new TopologyTestDriver(b.build(), { partitions: { in: 2 } });
    const input = driver.createInputTopic('in', str, num);
    input.pipeInput('a', 1, { partition: 1 });
    input.pipeInput('b', 1, { partition: 0 });
    input.pipeInput('c', 1, { partition: 1 });
    driver.advanceWallClock(1000);
    expect(origins.slice(0, 3)).toEqual([
      { topic: 'in', partition: 1, offset: 0 },
      { topic: 'in', partition: 0, offset: 0 },
      { topic: 'in', partition: 1, offset: 1 },
    ]);
    // One wall-clock tick per task (two partitions), outside any record.
    expect(origins.slice(3)).toEqual([undefined, undefined]);
  });

  it('refuses a store the processor was not connected to', () => {
    const b = new StreamsBuilder();
    b.addStateStore(Stores.keyValueStore<string, number>('counts'));
    source(b).process<string, number>(() => ({
      init: (c) => void c.getStateStore('counts'),
      process: () => {},
    }));
    expect(() => new TopologyTestDriver(b.build())).toThrow(/counts/);
  });
});

describe('outputs', () => {
  it('to() writes to the partition of Kafka\u2019s default partitioner', () => {
    // murmur2 of these keys from Kafka's UtilsTest: "foobar" -790332482, "21" -973932308, "abc" 479470107;
    // partition = (hash & 0x7fffffff) % 10.
    const { input, output } = pipeline((b) => source(b).to('out', { keySerde: str, valueSerde: num }), num, { partitions: { out: 10 } });
    input.pipeInput('foobar', 1);
    input.pipeInput('21', 2);
    input.pipeInput('abc', 3);
    expect(output.readRecordsToList().map((r) => [r.key, r.partition])).toEqual([
      ['foobar', 6],
      ['21', 0],
      ['abc', 7],
    ]);
  });

  it('sink() gives each task its own external sink, and commits and closes them', async () => {
    const written: { task: string; record: StreamRecord<string, number> }[] = [];
    const commits: string[] = [];
    const closes: string[] = [];
    const factory = (task: string): ExternalSink<string, number> => ({
      write: (record) => void written.push({ task, record }),
      commit: async () => void commits.push(task),
      close: async () => void closes.push(task),
    });
    const b = new StreamsBuilder();
    source(b).filter((_k, v) => v > 0).sink(factory);
    const driver = new TopologyTestDriver(b.build(), { partitions: { in: 2 } });
    const input = driver.createInputTopic('in', str, num);
    input.pipeInput('a', 1, { partition: 0, timestamp: 5 });
    input.pipeInput('b', 0, { partition: 0, timestamp: 6 });
    input.pipeInput('c', 3, { partition: 1, timestamp: 7 });
    expect(written).toEqual([
      { task: '0_0', record: { key: 'a', value: 1, timestamp: 5 } },
      { task: '0_1', record: { key: 'c', value: 3, timestamp: 7 } },
    ]);
    await driver.commit();
    expect([...commits].sort()).toEqual(['0_0', '0_1']);
    await driver.close();
    expect([...closes].sort()).toEqual(['0_0', '0_1']);
  });
});

describe('grouping and aggregation', () => {
  it('groupBy repartitions, so one key is counted in one place across all input partitions', () => {
    const b = new StreamsBuilder();
    b.stream<string, string>('words', { keySerde: str, valueSerde: str })
      .groupBy((_k, v) => v.toLowerCase(), { name: 'by-word', keySerde: str, valueSerde: str })
      .count()
      .toStream()
      .to('counts', { keySerde: str, valueSerde: num });
    const topology = b.build();
    expect([...topology.internalTopics.keys()]).toEqual(['by-word-repartition']);
    expect(topology.subtopologies).toHaveLength(2);
    const driver = new TopologyTestDriver(topology, { partitions: { words: 3 } });
    const input = driver.createInputTopic('words', str, str);
    const rows: [string, number][] = [
      ['Apple', 0],
      ['apple', 1],
      ['APPLE', 2],
      ['pear', 1],
      ['apple', 0],
      ['Pear', 2],
    ];
    for (const [w, p] of rows) input.pipeInput('ignored', w, { partition: p, timestamp: 1 });
    expect(driver.createOutputTopic('counts', str, num).readKeyValuesToList()).toEqual([
      ['apple', 1],
      ['apple', 2],
      ['apple', 3],
      ['pear', 1],
      ['apple', 4],
      ['pear', 2],
    ]);
  });

  it('groupByKey repartitions only after the key may have changed', () => {
    const plain = new StreamsBuilder();
    source(plain).mapValues((v) => v + 1).groupByKey().count().toStream().to('out', { keySerde: str, valueSerde: num });
    const t1 = plain.build();
    expect(t1.internalTopics.size).toBe(0);
    expect(t1.subtopologies).toHaveLength(1);

    const rekeyed = new StreamsBuilder();
    source(rekeyed).selectKey((_k, v) => `${v % 2}`).groupByKey().count().toStream().to('out', { keySerde: str, valueSerde: num });
    const t2 = rekeyed.build();
    expect(t2.internalTopics.size).toBe(1);
    expect(t2.subtopologies).toHaveLength(2);
    const driver = new TopologyTestDriver(t2, { partitions: { in: 4 } });
    const input = driver.createInputTopic('in', str, num);
    for (let i = 0; i < 8; i++) input.pipeInput(`k${i}`, i, { timestamp: i });
    const latest = new Map(driver.createOutputTopic('out', str, num).readKeyValuesToList());
    expect(latest).toEqual(new Map([['0', 4], ['1', 4]]));
  });

  it('count, reduce and aggregate forward every update of a key', () => {
    const b = new StreamsBuilder();
    const grouped = source(b).groupByKey();
    grouped.count().toStream().to('count', { keySerde: str, valueSerde: num });
    grouped.reduce((a, v) => a + v).toStream().to('sum', { keySerde: str, valueSerde: num });
    grouped
      .aggregate(
        () => '',
        (_k, v, acc) => `${acc}${v}`,
        { storeName: 'concat-store' },
      )
      .toStream()
      .to('concat', { keySerde: str, valueSerde: str });
    const topology = b.build();
    expect(topology.describe()).toContain('(stores: [concat-store])');
    const driver = new TopologyTestDriver(topology);
    const input = driver.createInputTopic('in', str, num);
    for (const [k, v] of [['a', 1], ['b', 10], ['a', 2], ['a', 3]] as const) input.pipeInput(k, v, { timestamp: 0 });
    expect(driver.createOutputTopic('count', str, num).readKeyValuesToList()).toEqual([['a', 1], ['b', 1], ['a', 2], ['a', 3]]);
    expect(driver.createOutputTopic('sum', str, num).readKeyValuesToList()).toEqual([['a', 1], ['b', 10], ['a', 3], ['a', 6]]);
    expect(driver.createOutputTopic('concat', str, str).readKeyValuesToList()).toEqual([['a', '1'], ['b', '10'], ['a', '12'], ['a', '123']]);
  });

  it('counts in tumbling windows [start, start + size)', () => {
    const { input, output } = windowed(TimeWindows.tumbling(10, 100));
    for (const [k, t] of [['a', 0], ['a', 9], ['b', 5], ['a', 10], ['a', 19], ['a', 20]] as const) input.pipeInput(k, 0, { timestamp: t });
    expect(output.readKeyValuesToList()).toEqual([
      [{ key: 'a', start: 0, end: 10 }, 1],
      [{ key: 'a', start: 0, end: 10 }, 2],
      [{ key: 'b', start: 0, end: 10 }, 1],
      [{ key: 'a', start: 10, end: 20 }, 1],
      [{ key: 'a', start: 10, end: 20 }, 2],
      [{ key: 'a', start: 20, end: 30 }, 1],
    ]);
  });

  it('counts a record in every hopping window that contains it', () => {
    const { input, output } = windowed(TimeWindows.hopping(10, 5, 100));
    input.pipeInput('a', 0, { timestamp: 7 });
    input.pipeInput('a', 0, { timestamp: 12 });
    input.pipeInput('a', 0, { timestamp: 4 });
    input.pipeInput('a', 0, { timestamp: 15 });
    expect(output.readKeyValuesToList()).toEqual([
      [{ key: 'a', start: 0, end: 10 }, 1],
      [{ key: 'a', start: 5, end: 15 }, 1],
      [{ key: 'a', start: 5, end: 15 }, 2],
      [{ key: 'a', start: 10, end: 20 }, 1],
      [{ key: 'a', start: -5, end: 5 }, 1],
      [{ key: 'a', start: 0, end: 10 }, 2],
      [{ key: 'a', start: 10, end: 20 }, 2],
      [{ key: 'a', start: 15, end: 25 }, 1],
    ]);
  });

  it('reduces and aggregates in windows', () => {
    const b = new StreamsBuilder();
    const w = source(b).groupByKey().windowedBy(TimeWindows.tumbling(10, 100));
    w.reduce((x, y) => Math.max(x, y)).toStream().to('max', { keySerde: windowedStr, valueSerde: num });
    w.aggregate(() => [] as number[], (_k, v, acc) => [...acc, v]).toStream().to('all', { keySerde: windowedStr, valueSerde: Serdes.json<number[]>() });
    const driver = new TopologyTestDriver(b.build());
    const input = driver.createInputTopic('in', str, num);
    input.pipeInput('a', 3, { timestamp: 1 });
    input.pipeInput('a', 1, { timestamp: 2 });
    input.pipeInput('a', 8, { timestamp: 11 });
    const w0 = { key: 'a', start: 0, end: 10 };
    const w1 = { key: 'a', start: 10, end: 20 };
    expect(driver.createOutputTopic('max', windowedStr, num).readKeyValuesToList()).toEqual([[w0, 3], [w0, 3], [w1, 8]]);
    expect(driver.createOutputTopic('all', windowedStr, Serdes.json<number[]>()).readKeyValuesToList()).toEqual([[w0, [3]], [w0, [3, 1]], [w1, [8]]]);
  });

  it('suppressUntilWindowCloses emits one final record per window and key, once stream time reaches end + grace', () => {
    const { driver, input, output } = windowed(TimeWindows.tumbling(10, 5), true);
    input.pipeInput('b', 0, { timestamp: 3 });
    input.pipeInput('a', 0, { timestamp: 1 });
    input.pipeInput('a', 0, { timestamp: 2 });
    input.pipeInput('c', 0, { timestamp: 14 });
    expect(output.readKeyValuesToList()).toEqual([]); // stream time 14 < 10 + 5
    input.pipeInput('c', 0, { timestamp: 15 });
    expect(output.readKeyValuesToList()).toEqual([
      [{ key: 'a', start: 0, end: 10 }, 2],
      [{ key: 'b', start: 0, end: 10 }, 1],
    ]);
    input.pipeInput('a', 0, { timestamp: 16 });
    input.pipeInput('a', 0, { timestamp: 5 }); // late for [0, 10): dropped, no second final
    expect(output.readKeyValuesToList()).toEqual([]);
    expect(driver.metric('late-records')).toBe(1);
    input.pipeInput('d', 0, { timestamp: 24 });
    expect(output.readKeyValuesToList()).toEqual([]);
    driver.endOfInput();
    expect(output.readKeyValuesToList()).toEqual([
      [{ key: 'a', start: 10, end: 20 }, 1],
      [{ key: 'c', start: 10, end: 20 }, 2],
      [{ key: 'd', start: 20, end: 30 }, 1],
    ]);
    driver.endOfInput();
    expect(output.readKeyValuesToList()).toEqual([]);
  });

  it('closes a window fed by several partitions only when every partition has passed end + grace', () => {
    const b = new StreamsBuilder();
    source(b)
      .groupBy((k) => k.toUpperCase(), { keySerde: str, valueSerde: num })
      .windowedBy(TimeWindows.tumbling(10, 0))
      .count()
      .suppressUntilWindowCloses()
      .toStream()
      .to('out', { keySerde: windowedStr, valueSerde: num });
    const driver = new TopologyTestDriver(b.build(), { partitions: { in: 2 }, idleMs: 60_000 });
    const input = driver.createInputTopic('in', str, num);
    const output = driver.createOutputTopic('out', windowedStr, num);
    input.pipeInput('a', 0, { partition: 0, timestamp: 1 });
    input.pipeInput('a', 0, { partition: 0, timestamp: 50 }); // partition 0 is far ahead
    expect(output.readKeyValuesToList()).toEqual([]);
    input.pipeInput('a', 0, { partition: 1, timestamp: 2 }); // on time: partition 1 is at 2
    expect(output.readKeyValuesToList()).toEqual([]);
    input.pipeInput('a', 0, { partition: 1, timestamp: 30 });
    expect(output.readKeyValuesToList()).toEqual([[{ key: 'A', start: 0, end: 10 }, 2]]);
    expect(driver.metric('late-records')).toBe(0);
  });

  it('stops waiting for a partition that stays idle for idleMs of wall-clock time', () => {
    const b = new StreamsBuilder();
    source(b)
      .selectKey((k) => k)
      .groupByKey()
      .windowedBy(TimeWindows.tumbling(10, 0))
      .count()
      .suppressUntilWindowCloses()
      .toStream()
      .to('out', { keySerde: windowedStr, valueSerde: num });
    const driver = new TopologyTestDriver(b.build(), { partitions: { in: 2 }, idleMs: 1000 });
    const input = driver.createInputTopic('in', str, num);
    const output = driver.createOutputTopic('out', windowedStr, num);
    input.pipeInput('a', 0, { partition: 0, timestamp: 1 });
    input.pipeInput('a', 0, { partition: 0, timestamp: 25 });
    driver.advanceWallClock(999);
    expect(output.readKeyValuesToList()).toEqual([]);
    driver.advanceWallClock(1);
    expect(output.readKeyValuesToList()).toEqual([[{ key: 'a', start: 0, end: 10 }, 1]]);
  });

  it('suppressUntilWindowCloses needs a windowed table', () => {
    const b = new StreamsBuilder();
    const table = source(b).groupByKey().count();
    expect(() => table.suppressUntilWindowCloses()).toThrow(TypeError);
  });
});

describe('building a topology', () => {
  it('rejects two nodes with the same name', () => {
    const b = new StreamsBuilder();
    source(b).filter(() => true, 'twice').mapValues((v) => v, 'twice').to('out');
    const e = thrown(() => b.build());
    expect(e).toBeInstanceOf(TopologyError);
    expect((e as TopologyError).code).toBe('duplicate-name');
    expect((e as TopologyError).message).toContain('twice');
  });

  it('rejects two stores with the same name', () => {
    const b = new StreamsBuilder();
    b.addStateStore(Stores.keyValueStore('s'));
    const g = source(b).groupByKey();
    g.count({ storeName: 's' });
    const e = thrown(() => b.build());
    expect(e).toBeInstanceOf(TopologyError);
    expect((e as TopologyError).code).toBe('duplicate-name');
    expect((e as TopologyError).message).toContain('s');
  });

  it('rejects a processor naming an unknown store', () => {
    const b = new StreamsBuilder();
    source(b).process(() => ({ process: () => {} }), { name: 'needs-store', stores: ['nowhere'] });
    const e = thrown(() => b.build());
    expect(e).toBeInstanceOf(TopologyError);
    expect((e as TopologyError).code).toBe('unknown-store');
    expect((e as TopologyError).message).toMatch(/needs-store.*nowhere/);
  });

  it('rejects a topic read by two sources', () => {
    const b = new StreamsBuilder();
    b.stream('in');
    b.stream(['other', 'in']);
    const e = thrown(() => b.build());
    expect(e).toBeInstanceOf(TopologyError);
    expect((e as TopologyError).code).toBe('invalid-topology');
  });

  it('describes itself with stable generated names', () => {
    const build = () => {
      const b = new StreamsBuilder();
      source(b)
        .filter((_k, v) => v > 0)
        .mapValues((v) => v * 2)
        .to('out');
      return b.build();
    };
    const text = build().describe();
    expect(text).toBe(
      [
        'Topologies:',
        '   Sub-topology: 0',
        '    Source: KSTREAM-SOURCE-0000000000 (topics: [in])',
        '      --> KSTREAM-FILTER-0000000001',
        '    Processor: KSTREAM-FILTER-0000000001 (stores: [])',
        '      --> KSTREAM-MAPVALUES-0000000002',
        '      <-- KSTREAM-SOURCE-0000000000',
        '    Processor: KSTREAM-MAPVALUES-0000000002 (stores: [])',
        '      --> KSTREAM-SINK-0000000003',
        '      <-- KSTREAM-FILTER-0000000001',
        '    Sink: KSTREAM-SINK-0000000003 (topic: out)',
        '      <-- KSTREAM-MAPVALUES-0000000002',
        '',
      ].join('\n'),
    );
    expect(build().describe()).toBe(text);
  });

  it('describes the same grouped, windowed topology identically every time it is built', () => {
    const build = () => {
      const b = new StreamsBuilder();
      const [left, right] = source(b).branch(
        (k) => k < 'm',
        () => true,
      );
      left!.groupBy((_k, v) => String(v)).windowedBy(TimeWindows.tumbling(60_000)).count().suppressUntilWindowCloses().toStream().to('counts');
      right!.peek(() => {}).sink(() => ({ write: () => {}, commit: async () => {}, close: async () => {} }));
      return b.build();
    };
    const text = build().describe();
    expect(build().describe()).toBe(text);
    for (const name of ['KSTREAM-BRANCH-0000000001', 'KSTREAM-KEY-SELECT-', 'KSTREAM-REPARTITION-', '-repartition', 'KSTREAM-AGGREGATE-STATE-STORE-', 'KSTREAM-WINDOWED-AGGREGATE-', 'KTABLE-SUPPRESS-', 'KSTREAM-EXTERNAL-SINK-'])
      expect(text).toContain(name);
    expect(text).toContain('Sub-topology: 1');
  });
});
