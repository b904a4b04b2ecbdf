import { describe, expect, it } from 'vitest';
import { StreamsBuilder } from '../../topology/api/builder.ts';
import { RetailStreamsError } from '../../topology/api/errors.ts';
import { RecordRejectedError, type DeadLetterContext, type HandlerResponse } from '../../topology/api/handlers.ts';
import { Serdes, type Serde } from '../../topology/api/serdes.ts';
import { TopologyTestDriver, type TestDriverOptions } from '../../topology/runtimes/test-driver.ts';

const str = Serdes.string as Serde<string>;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Whole numbers as text: anything else is refused with a reason of the serde's own, except
 * `boom`, which fails the way a buggy serde does (a plain Error).
 */
const wholeNumber: Serde<number> = {
  name: 'whole-number',
  serialize: (v) => encoder.encode(String(v)),
  deserialize: (d) => {
    const text = d === null ? '' : decoder.decode(d);
    if (text === 'boom') throw new Error('the serde broke');
    if (!/^\d+$/.test(text)) throw new RecordRejectedError('not-a-number', `"${text}" is not a whole number`);
    return Number(text);
  },
};
const text: Serde<string> = { name: 'text', serialize: (v) => encoder.encode(v), deserialize: (d) => decoder.decode(d!) };

/** in (raw text, read as whole numbers) -> out, in the driver, with a text input topic to pipe anything. */
function numbers(options: TestDriverOptions = {}) {
  const b = new StreamsBuilder();
  b.stream<string, number>('in', { keySerde: str, valueSerde: wholeNumber }).to('out', { keySerde: str, valueSerde: Serdes.json<number>() });
  const driver = new TopologyTestDriver(b.build(), options);
  return {
    driver,
    input: driver.createInputTopic('in', str, text),
    output: driver.createOutputTopic('out', str, Serdes.json<number>()),
    dlq: driver.createOutputTopic('dlq', Serdes.bytes, Serdes.bytes),
  };
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, none was thrown');
}

describe('deserialization exception handler', () => {
  it('log-and-fail (the default): pipeInput throws a RetailStreamsError naming the record, after the record is dead-lettered', () => {
    const { driver, input, output, dlq } = numbers({ deadLetterQueueTopic: 'dlq' });
    input.pipeInput('a', '1', { timestamp: 10 });
    const e = thrown(() => input.pipeInput('b', 'x', { timestamp: 11 }));
    expect(e).toBeInstanceOf(RetailStreamsError);
    // Fatal, as the Kafka runtime's: the run stops.
    expect((e as RetailStreamsError).code).toBe('fatal');
    expect((e as Error).message).toContain('in[0]@1');
    expect((e as Error).message).toContain('not-a-number');
    expect((e as Error).cause).toBeInstanceOf(RecordRejectedError);
    expect(output.readValuesToList()).toEqual([1]);
    // Written to the dead-letter queue and counted before the handler stopped the run.
    expect(dlq.readValuesToList().map((v) => decoder.decode(v!))).toEqual(['x']);
    expect(driver.metric('dead-letter-records')).toBe(1);
    expect(driver.deadLetters.map((d) => d.reason)).toEqual(['not-a-number']);
  });

  it('log-and-continue: skips the record, keeps every later one, counts and keeps the dead letter', () => {
    const { driver, input, output } = numbers({ deserializationExceptionHandler: 'log-and-continue' });
    input.pipeInput('a', '1', { timestamp: 10 });
    input.pipeInput('b', 'x', { timestamp: 11 });
    input.pipeInput('c', 'boom', { timestamp: 12 });
    input.pipeInput('d', '4', { timestamp: 13 });
    expect(output.readKeyValuesToList()).toEqual([
      ['a', 1],
      ['d', 4],
    ]);
    expect(driver.metric('dead-letter-records')).toBe(2);
    // A serde's own reason when it refuses with RecordRejectedError; deserialization-failed otherwise.
    expect(driver.deadLetters.map((d) => [d.reason, (d.error as Error).message])).toEqual([
      ['not-a-number', '"x" is not a whole number'],
      ['deserialization-failed', 'the serde broke'],
    ]);
    const first = driver.deadLetters[0]!;
    expect(first.origin).toEqual({ topic: 'in', partition: 0, offset: 1 });
    expect(decoder.decode(first.key!)).toBe('b');
    expect(decoder.decode(first.value!)).toBe('x');
    expect(first.timestamp).toBe(11);
  });

  it('a function decides per record, from the dead-letter context', () => {
    const seen: DeadLetterContext[] = [];
    const handler = (c: DeadLetterContext): HandlerResponse => {
      seen.push(c);
      return c.reason === 'not-a-number' ? 'continue' : 'fail';
    };
    const { input, output } = numbers({ deserializationExceptionHandler: handler });
    input.pipeInput('a', 'x', { timestamp: 1 });
    input.pipeInput('b', '2', { timestamp: 2 });
    expect(output.readValuesToList()).toEqual([2]);
    expect(thrown(() => input.pipeInput('c', 'boom', { timestamp: 3 }))).toBeInstanceOf(RetailStreamsError);
    expect(seen.map((c) => [c.reason, c.origin.offset])).toEqual([
      ['not-a-number', 0],
      ['deserialization-failed', 2],
    ]);
  });

  it('a function that throws counts as fail', () => {
    const { input } = numbers({
      deserializationExceptionHandler: () => {
        throw new Error('handler bug');
      },
    });
    expect(thrown(() => input.pipeInput('a', 'x'))).toBeInstanceOf(RetailStreamsError);
  });
});

describe('dead-letter queue topic', () => {
  it('holds the record as read: key, value, timestamp, the reason and origin in headers (rs-* and KIP-1034 names)', () => {
    const { input, dlq, output } = numbers({ deserializationExceptionHandler: 'log-and-continue', deadLetterQueueTopic: 'dlq' });
    input.pipeInput('k1', '7', { timestamp: 5 });
    input.pipeInput('k2', 'seven', { timestamp: 6 });
    input.pipeInput('k3', 'boom', { timestamp: 7 });
    expect(output.readValuesToList()).toEqual([7]);
    const dead = dlq.readRecordsToList();
    expect(dead.map((r) => [decoder.decode(r.key!), decoder.decode(r.value!), r.timestamp])).toEqual([
      ['k2', 'seven', 6],
      ['k3', 'boom', 7],
    ]);
    expect(dead[0]!.headers).toEqual({
      'rs-reason': 'not-a-number',
      'rs-detail': '"seven" is not a whole number',
      'rs-source-topic': 'in',
      'rs-source-partition': '0',
      'rs-source-offset': '1',
      '__streams.errors.exception': 'RecordRejectedError',
      '__streams.errors.message': '"seven" is not a whole number',
      '__streams.errors.topic': 'in',
      '__streams.errors.partition': '0',
      '__streams.errors.offset': '1',
    });
    expect(dead[1]!.headers).toMatchObject({ 'rs-reason': 'deserialization-failed', 'rs-detail': 'the serde broke', '__streams.errors.exception': 'Error', 'rs-source-offset': '2' });
  });

  it('is written to the partition of the record key, like any output topic', () => {
    const { input, dlq } = numbers({ deserializationExceptionHandler: 'log-and-continue', deadLetterQueueTopic: 'dlq', partitions: { dlq: 4 } });
    for (const k of ['a', 'b', 'c', 'd', 'e', 'f']) input.pipeInput(k, 'x');
    const dead = dlq.readRecordsToList();
    expect(dead).toHaveLength(6);
    expect(new Set(dead.map((r) => r.partition)).size).toBeGreaterThan(1);
  });
});

describe('event-time guard', () => {
  const NOW = Date.UTC(2024, 0, 1, 12, 0, 0);
  const HOUR = 3_600_000;

  it('dead-letters a record more than maxFutureMs ahead of the wall clock: stream time does not move, the handler is not asked', () => {
    // log-and-fail: a future timestamp is refused data, never a reason to stop.
    const { driver, input, output, dlq } = numbers({ wallClockStart: NOW, deadLetterQueueTopic: 'dlq' });
    input.pipeInput('a', '1', { timestamp: NOW - 1000 });
    input.pipeInput('far', '2', { timestamp: NOW + HOUR + 1 });
    input.pipeInput('edge', '3', { timestamp: NOW + HOUR }); // exactly the limit: accepted
    expect(output.readKeyValuesToList()).toEqual([
      ['a', 1],
      ['edge', 3],
    ]);
    expect(driver.streamTimeOf('in', 0)).toBe(NOW + HOUR);
    expect(driver.metric('dead-letter-records')).toBe(1);
    const [d] = driver.deadLetters;
    expect(d!.reason).toBe('future-timestamp');
    expect(d!.error).toBeInstanceOf(RecordRejectedError);
    expect((d!.error as RecordRejectedError).reason).toBe('future-timestamp');
    expect((d!.error as Error).message).toBe(`${new Date(NOW + HOUR + 1).toISOString()} is more than ${HOUR} ms ahead of the wall clock ${new Date(NOW).toISOString()}`);
    const [r] = dlq.readRecordsToList();
    expect(r!.headers).toMatchObject({ 'rs-reason': 'future-timestamp', 'rs-source-offset': '1' });
    expect(r!.timestamp).toBe(NOW + HOUR + 1);
  });

  it('stream time stays put: a later on-time record finds its window open', () => {
    const { driver, input } = numbers({ wallClockStart: NOW });
    input.pipeInput('a', '1', { timestamp: NOW - 5000 });
    input.pipeInput('typo', '2', { timestamp: Date.UTC(9999, 11, 31, 23, 59, 59) });
    expect(driver.streamTimeOf('in', 0)).toBe(NOW - 5000);
    expect((driver.deadLetters[0]!.error as Error).message).toMatch(/^9999-12-31T23:59:59\.000Z is more than/);
  });

  it('follows the wall clock as it advances', () => {
    const { driver, input, output } = numbers({ wallClockStart: NOW, maxFutureMs: 1000 });
    input.pipeInput('a', '1', { timestamp: NOW + 1500 });
    driver.advanceWallClock(1000);
    input.pipeInput('b', '2', { timestamp: NOW + 1500 });
    expect(output.readKeyValuesToList()).toEqual([['b', 2]]);
    expect(driver.deadLetters.map((d) => d.reason)).toEqual(['future-timestamp']);
  });

  it('maxFutureMs: Infinity turns it off', () => {
    const { driver, input, output } = numbers({ wallClockStart: NOW, maxFutureMs: Number.POSITIVE_INFINITY });
    const far = Date.UTC(9999, 11, 31, 23, 59, 59);
    input.pipeInput('typo', '2', { timestamp: far });
    expect(output.readValuesToList()).toEqual([2]);
    expect(driver.streamTimeOf('in', 0)).toBe(far);
    expect(driver.deadLetters).toEqual([]);
  });
});
