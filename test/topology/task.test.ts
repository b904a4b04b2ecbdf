import { describe, expect, it } from 'vitest';
import { StreamsBuilder } from '../../topology/api/builder.ts';
import { RecordRejectedError, type DeadLetterContext } from '../../topology/api/handlers.ts';
import type { Processor, ProcessorContext } from '../../topology/api/processor.ts';
import { Serdes, type Serde } from '../../topology/api/serdes.ts';
import type { Topology } from '../../topology/internals/compile.ts';
import { StreamTask, WATERMARK_HEADER, type RawRecord, type TaskEnv } from '../../topology/internals/task.ts';
import { TopologyTestDriver } from '../../topology/runtimes/test-driver.ts';
import { Stores, type StoreBuilder } from '../../state-stores/stores.ts';
import type { KeyValueStore, StoreContext } from '../../state-stores/api.ts';

const str = Serdes.string as Serde<string>;
const num = Serdes.json<number>();
const encoder = new TextEncoder();

interface Sent {
  readonly topic: string;
  readonly partition: number;
  readonly timestamp: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A runtime that records what the task sends and dead-letters, on a wall clock far from event time. */
function fakeEnv(wallClock: number, maxFutureMs = Number.POSITIVE_INFINITY): TaskEnv & { sent: Sent[]; dead: DeadLetterContext[] } {
  const sent: Sent[] = [];
  const dead: DeadLetterContext[] = [];
  return {
    sent,
    dead,
    idleMs: 30_000,
    maxFutureMs,
    wallClock: () => wallClock,
    partitionsOf: () => 1,
    send: (topic, partition, _key, _value, timestamp, headers) => void sent.push(headers === undefined ? { topic, partition, timestamp } : { topic, partition, timestamp, headers }),
    count: () => {},
    deadLetter: (c) => void dead.push(c),
  };
}

/** words -> groupBy(word) -> count -> counts: sub-topology 0 writes the repartition topic. */
function wordCount(): Topology {
  const b = new StreamsBuilder();
  b.stream<string, string>('words', { keySerde: str, valueSerde: str })
    .groupBy((_k, v) => v, { name: 'by-word', keySerde: str, valueSerde: str })
    .count()
    .toStream()
    .to('counts', { keySerde: str, valueSerde: num });
  return b.build();
}

const raw = (value: string, timestamp: number, offset: number): RawRecord => ({ key: null, value: encoder.encode(value), timestamp, offset });

describe('StreamTask: what it writes carries event time', () => {
  const WALL = Date.UTC(2030, 0, 1);

  it('stamps watermark records to repartition topics with the watermark, not the wall clock', () => {
    const topology = wordCount();
    const env = fakeEnv(WALL);
    const task = new StreamTask(topology, topology.subtopologies[0]!, 0, env);
    task.processBatch('words', [raw('apple', 1_000, 0), raw('pear', 5_000, 1), raw('apple', 3_000, 2)]);
    task.flush();
    const data = env.sent.filter((s) => s.headers?.[WATERMARK_HEADER] === undefined);
    const marks = env.sent.filter((s) => s.headers?.[WATERMARK_HEADER] !== undefined);
    expect(data.map((s) => [s.topic, s.timestamp])).toEqual([
      ['by-word-repartition', 1_000],
      ['by-word-repartition', 5_000],
      ['by-word-repartition', 3_000],
    ]);
    expect(marks).toHaveLength(1);
    expect(marks[0]).toMatchObject({ topic: 'by-word-repartition', timestamp: 5_000 });
    expect(marks[0]!.headers![WATERMARK_HEADER]).toBe('0_0 5000 active');
  });

  it('clamps a negative watermark at 0, and stamps the end of input with the last finite stream time', () => {
    const topology = wordCount();
    const env = fakeEnv(WALL);
    const task = new StreamTask(topology, topology.subtopologies[0]!, 0, env);
    task.processBatch('words', [raw('apple', -50, 0)]);
    task.flush();
    expect(env.sent.filter((s) => s.headers !== undefined).map((s) => s.timestamp)).toEqual([0]);
    env.sent.length = 0;
    task.processBatch('words', [raw('pear', 7_000, 1)]);
    task.endOfInput();
    const marks = env.sent.filter((s) => s.headers !== undefined);
    expect(marks.map((s) => s.headers![WATERMARK_HEADER])).toEqual(['0_0 Infinity active']);
    expect(marks.map((s) => s.timestamp)).toEqual([7_000]);
  });

  it('hands dead letters to the runtime with the serde\u2019s reason, or deserialization-failed', () => {
    const b = new StreamsBuilder();
    const picky: Serde<string> = {
      name: 'picky',
      serialize: (v) => encoder.encode(v),
      deserialize: (d) => {
        const t = new TextDecoder().decode(d!);
        if (t === 'bad') throw new RecordRejectedError('too-bad', 'bad is bad');
        if (t === 'worse') throw new TypeError('worse');
        return t;
      },
    };
    b.stream<string, string>('in', { keySerde: str, valueSerde: picky }).to('out', { keySerde: str, valueSerde: str });
    const topology = b.build();
    const env = fakeEnv(WALL);
    const task = new StreamTask(topology, topology.subtopologies[0]!, 0, env);
    task.processBatch('in', [raw('ok', 1, 10), raw('bad', 2, 11), raw('worse', 3, 12)]);
    expect(env.sent.map((s) => s.timestamp)).toEqual([1]);
    expect(env.dead.map((d) => [d.reason, d.origin.offset, d.timestamp, (d.error as Error).name])).toEqual([
      ['too-bad', 11, 2, 'RecordRejectedError'],
      ['deserialization-failed', 12, 3, 'TypeError'],
    ]);
  });

  it('guards input topics only against event time ahead of the wall clock', () => {
    const topology = wordCount();
    const env = fakeEnv(WALL, 60_000);
    const task = new StreamTask(topology, topology.subtopologies[0]!, 0, env);
    task.processBatch('words', [raw('apple', WALL - 1, 0), raw('pear', WALL + 60_001, 1), raw('plum', WALL + 60_000, 2)]);
    expect(task.streamTime).toBe(WALL + 60_000);
    expect(env.dead.map((d) => [d.reason, d.origin.offset])).toEqual([['future-timestamp', 1]]);
  });
});

describe('StreamTask: stores learn the time of the change', () => {
  /** A key-value store that notes the context's record timestamp at every put. */
  function noting(name: string, log: [string, number][]): StoreBuilder<KeyValueStore<string, number>> {
    const inner = Stores.keyValueStore<string, number>(name, { logged: false });
    return {
      name,
      type: 'key-value',
      logged: false,
      build: (persistence) => {
        const store = inner.build(persistence);
        let context: StoreContext | undefined;
        return Object.assign(Object.create(store) as KeyValueStore<string, number>, {
          init: (c: StoreContext) => void (context = c),
          put: (k: string, v: number) => {
            log.push([k, context?.recordTimestamp() ?? Number.NaN]);
            store.put(k, v);
          },
        });
      },
    };
  }

  it('is given a context before processors start: the record\u2019s event time, or stream time in a punctuator', () => {
    const log: [string, number][] = [];
    const b = new StreamsBuilder();
    b.addStateStore(noting('notes', log));
    b.stream<string, number>('in', { keySerde: str, valueSerde: num }).process<string, number>(
      (): Processor<string, number, string, number> => {
        let store: KeyValueStore<string, number>;
        return {
          init(c: ProcessorContext<string, number>) {
            store = c.getStateStore<KeyValueStore<string, number>>('notes');
            store.put('init', 0);
            c.schedule(100, 'stream-time', (t) => store.put(`stream-tick@${t}`, 0));
            c.schedule(1000, 'wall-clock', () => store.put('wall-tick', 0));
          },
          process(r) {
            store.put(r.key, r.value);
          },
        };
      },
      { stores: ['notes'] },
    );
    const driver = new TopologyTestDriver(b.build(), { wallClockStart: 0 });
    const input = driver.createInputTopic('in', str, num);
    input.pipeInput('a', 1, { timestamp: 250 });
    input.pipeInput('b', 2, { timestamp: 120 }); // out of order: its own time, not stream time
    input.pipeInput('c', 3, { timestamp: 400 });
    driver.advanceWallClock(1000);
    expect(log).toEqual([
      ['init', Number.NEGATIVE_INFINITY],
      ['stream-tick@250', 250],
      ['a', 250],
      ['b', 120],
      ['stream-tick@400', 400],
      ['c', 400],
      ['wall-tick', 400],
    ]);
  });
});
