import { describe, expect, it } from 'vitest';
import { StreamTask } from '../../../topology/internals/task.ts';
import { ActiveTask } from '../../../topology/runtimes/kafka/active-task.ts';
import { kafkaTimestamp, RecordCollector } from '../../../topology/runtimes/kafka/record-collector.ts';
import { counting, raw, text } from './harness.ts';

const WALL = Date.UTC(2024, 5, 1, 12, 0, 0);
const YEARS_AGO = Date.UTC(2011, 0, 4, 9, 30, 0);
const bytes = (s: string) => new TextEncoder().encode(s);

describe('RecordCollector', () => {
  it('stamps a record with the event time it is given, years in the past included', () => {
    const c = new RecordCollector(() => WALL);
    c.send('out', 0, bytes('k'), bytes('v'), YEARS_AGO);
    c.send('out', 0, bytes('k'), bytes('v'), 0);
    expect(c.take()[0]!.messages.map((m) => m.timestamp)).toEqual([String(YEARS_AGO), '0']);
  });

  it.each([
    ['NaN', Number.NaN],
    ['negative', -1_000],
    ['+Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
  ])('stamps a record with a %s event time with the fallback clock', (_, t) => {
    let now = WALL;
    const c = new RecordCollector(() => now++);
    c.send('out', 0, null, bytes('v'), t);
    expect(c.take()[0]!.messages[0]!.timestamp).toBe(String(WALL));
  });

  it('keeps the key, value, partition and headers, as Buffers for kafkajs', () => {
    const c = new RecordCollector(() => WALL);
    const headers = { 'rs-reason': 'x' };
    // A view into a larger buffer: only its own bytes may be sent.
    const backing = bytes('__key__');
    c.send('out', 3, backing.subarray(2, 5), null, YEARS_AGO, headers);
    const m = c.take()[0]!.messages[0]!;
    expect(Buffer.isBuffer(m.key)).toBe(true);
    expect(text(m.key as Buffer)).toBe('key');
    expect(m.value).toBeNull();
    expect(m.partition).toBe(3);
    expect(m.headers).toEqual(headers);
    expect(m.headers).not.toBe(headers);
  });

  it('stamps changelog records with their entry timestamp, the fallback time without one, the clock when neither is usable', () => {
    const c = new RecordCollector(() => WALL);
    c.sendChangelog('app-store-changelog', 1, [
      { key: 'a', value: '1', timestamp: YEARS_AGO },
      { key: 'b', value: null },
    ], YEARS_AGO + 5);
    c.sendChangelog('app-store-changelog', 1, [{ key: 'c', value: '3' }], Number.NEGATIVE_INFINITY);
    const [changelog] = c.take();
    expect(changelog!.topic).toBe('app-store-changelog');
    expect(changelog!.messages).toEqual([
      { key: 'a', value: '1', partition: 1, timestamp: String(YEARS_AGO) },
      { key: 'b', value: null, partition: 1, timestamp: String(YEARS_AGO + 5) },
      { key: 'c', value: '3', partition: 1, timestamp: String(WALL) },
    ]);
  });

  it('take() hands over everything queued, grouped by topic in order, and starts empty again', () => {
    const c = new RecordCollector(() => WALL);
    expect(c.isEmpty).toBe(true);
    c.send('a', 0, null, bytes('1'), 1);
    c.send('b', 0, null, bytes('2'), 2);
    c.send('a', 1, null, bytes('3'), 3);
    expect(c.isEmpty).toBe(false);
    const taken = c.take();
    expect(taken.map((t) => [t.topic, t.messages.map((m) => text(m.value as Buffer))])).toEqual([
      ['a', ['1', '3']],
      ['b', ['2']],
    ]);
    expect(c.isEmpty).toBe(true);
    expect(c.take()).toEqual([]);
    c.send('b', 0, null, bytes('4'), 4);
    expect(c.take().map((t) => t.messages.length)).toEqual([1]);
  });

  it('kafkaTimestamp floors fractional milliseconds and never goes below zero', () => {
    expect(kafkaTimestamp(1_500.9, WALL)).toBe('1500');
    expect(kafkaTimestamp(Number.NaN, -5)).toBe('0');
  });
});

describe('a task in the Kafka runtime', () => {
  it('writes outputs and changelog records stamped with the event time of the input record that produced them', () => {
    const topology = counting();
    const sub = topology.subtopologyOf('in')!;
    const collector = new RecordCollector(() => WALL);
    const task = new StreamTask(topology, sub, 0, {
      idleMs: 30_000,
      maxFutureMs: Number.POSITIVE_INFINITY,
      wallClock: () => WALL,
      partitionsOf: () => 1,
      send: (topic, p, key, value, timestamp, headers) => collector.send(topic, p, key, value, timestamp, headers),
      count: () => {},
      deadLetter: () => {},
    });
    const active = new ActiveTask(task, collector, undefined, ['in'], 'app');
    // Out of order on purpose: each output carries its own record's time, not stream time.
    task.processBatch('in', raw([
      { key: 'x', value: '1', timestamp: YEARS_AGO + 2_000 },
      { key: 'y', value: '2', timestamp: YEARS_AGO },
    ]));
    // As the stream thread does after each batch: the count's record cache forwards its updates.
    task.flush();
    const outputs = active.takeOutputs();
    const byTopic = new Map(outputs.map((t) => [t.topic, t.messages]));
    // The flush also persists the task's stream time, in its own logged store.
    expect([...byTopic.keys()].sort()).toEqual(['app-KSTREAM-STREAM-TIME-0000000000-changelog', 'app-counts-changelog', 'out']);
    expect(byTopic.get('out')!.map((m) => [text(m.key as Buffer), m.timestamp])).toEqual([
      ['x', String(YEARS_AGO + 2_000)],
      ['y', String(YEARS_AGO)],
    ]);
    expect(byTopic.get('app-counts-changelog')!.map((m) => [m.key, m.value, m.timestamp])).toEqual([
      ['"x"', '1', String(YEARS_AGO + 2_000)],
      ['"y"', '1', String(YEARS_AGO)],
    ]);
    expect(active.takeOutputs()).toEqual([]);
  });
});
