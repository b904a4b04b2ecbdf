// Every conformance case (test/conformance/cases.ts) on the TopologyTestDriver, against its
// independent reference. The same cases run on a real broker in test/integration/conformance.test.ts.
import { describe, expect, it } from 'vitest';
import { Serdes, TopologyTestDriver, type Serde } from '../../index.ts';
import { caseNames, makeCase, partitionCounts, topicsToRead, type ConformanceCase, type Facets, type InputRecord, type OutputRecord } from './cases.ts';

/** The fake wall clock: years after the 2021 event times, so the future-timestamp guard passes them. */
const WALL_CLOCK_START = Date.UTC(2025, 0, 1);
/** Wall-clock time the driver advances every `TICK_EVERY` records, so wall-clock punctuators run mid-stream. */
const TICK_MS = 250;
const TICK_EVERY = 40;

const text = Serdes.string as Serde<string | null>;

interface DriverRun {
  readonly driver: TopologyTestDriver;
  /** Everything read from the output topics so far, per topic, in write order. */
  readonly outputs: Map<string, OutputRecord[]>;
  readAll(): void;
}

/**
 * `interleaved`: the case's own order, partitions interleaved by arrival. `partition-after-partition`:
 * all of the last partition first, then the one before, ... (each partition's own order kept), as
 * a consumer catching up on a backlog one partition at a time would see it. Every reference holds
 * for any interleaving of the partitions.
 */
type Order = 'interleaved' | 'partition-after-partition';

function ordered(c: ConformanceCase, order: Order): readonly InputRecord[] {
  if (order === 'interleaved') return c.input;
  return c.input
    .map((r, i) => ({ r, i }))
    .sort((a, b) => b.r.partition - a.r.partition || a.i - b.i)
    .map((x) => x.r);
}

function runOnDriver(c: ConformanceCase, order: Order): DriverRun {
  const options = {
    partitions: partitionCounts(c),
    wallClockStart: WALL_CLOCK_START,
    // Nothing here is idle: windows close on every partition's stream time only.
    idleMs: 600_000,
    ...(c.deadLetterQueueTopic === undefined ? {} : { deadLetterQueueTopic: c.deadLetterQueueTopic, deserializationExceptionHandler: 'log-and-continue' as const }),
  };
  const driver = new TopologyTestDriver(c.build(), options);
  const inputs = new Map(c.inputTopics.map((t) => [t.name, driver.createInputTopic(t.name, text, text)]));
  const outputTopics = topicsToRead(c).map((t) => [t, driver.createOutputTopic(t, text, text)] as const);
  const outputs = new Map<string, OutputRecord[]>(outputTopics.map(([t]) => [t, []]));
  const readAll = () => {
    for (const [topic, out] of outputTopics) {
      for (const r of out.readRecordsToList()) {
        const rec: OutputRecord = { topic, partition: r.partition, key: r.key, value: r.value, timestamp: r.timestamp, ...(r.headers === undefined ? {} : { headers: r.headers }) };
        outputs.get(topic)!.push(rec);
      }
    }
  };
  ordered(c, order).forEach((r, i) => {
    inputs.get(r.topic)!.pipeInput(r.key, r.value, { partition: r.partition, timestamp: r.timestamp });
    if ((i + 1) % TICK_EVERY === 0) driver.advanceWallClock(TICK_MS);
  });
  // Wall-clock punctuators get their turn after the last record.
  driver.advanceWallClock(5_000);
  readAll();
  return { driver, outputs, readAll };
}

function expectFacets(actual: Facets, expected: Facets, where: string): void {
  for (const [facet, want] of Object.entries(expected)) expect.soft(actual[facet], `${where}: facet "${facet}"`).toEqual(want);
}

describe('conformance cases on the TopologyTestDriver', () => {
  const runs = caseNames.flatMap((name) => (['interleaved', 'partition-after-partition'] as const).map((order) => [name, order] as const));
  for (const [name, order] of runs) {
    it(`${name} (${order}): outputs and metrics equal the reference`, async () => {
      const c = makeCase(name, 'drv');
      const { driver, outputs, readAll } = runOnDriver(c, order);
      // The guard reads the wall clock once per batch; the driver's moved by at most this much.
      const expected = c.reference(WALL_CLOCK_START);
      expectFacets(c.observe(outputs), expected.facets, name);
      for (const [topic, n] of Object.entries(expected.counts)) expect.soft(outputs.get(topic)?.length, `${name}: records in ${topic}`).toBe(n);
      for (const [metric, n] of Object.entries(expected.metrics)) expect.soft(driver.metric(metric), `${name}: metric ${metric}`).toBe(n);
      if (c.referenceAtEndOfInput !== undefined) {
        driver.endOfInput();
        readAll();
        expectFacets(c.observe(outputs), c.referenceAtEndOfInput(WALL_CLOCK_START), `${name} after endOfInput`);
      }
      if (c.deadLetterQueueTopic !== undefined) {
        // The driver also keeps every dead letter: the same reasons as the topic's headers.
        expect.soft(driver.deadLetters.map((d) => d.reason).sort(), `${name}: driver.deadLetters reasons`).toEqual(
          (expected.facets.deadLetters as string[]).map((d) => (JSON.parse(d) as { reason: string }).reason).sort(),
        );
      }
      await driver.close();
    });
  }

  it('the cases are deterministic: the same input every time they are made', () => {
    for (const name of caseNames) expect(makeCase(name, 'x').input, name).toEqual(makeCase(name, 'x').input);
  });

  it('the references are not trivial: each expects output, and the late and dead-letter cases expect some', () => {
    for (const name of caseNames) {
      const e = makeCase(name, 'x').reference(WALL_CLOCK_START);
      for (const [topic, n] of Object.entries(e.counts)) expect(n, `${name}: ${topic}`).toBeGreaterThan(0);
    }
    expect(makeCase('late-sums', 'x').reference(WALL_CLOCK_START).metrics['late-records']).toBeGreaterThan(10);
    expect(makeCase('future-guard', 'x').reference(WALL_CLOCK_START).metrics['dead-letter-records']).toBe(2);
  });

  it('the crash points of the broker kill tests are where lost state would show', () => {
    // page-views: windows open at the crash point (not final by its watermark) whose page gets
    // no record after it. Without a durable suppress buffer their final is lost.
    const pv = makeCase('page-views', 'x');
    const at = pv.crashPoint!.index;
    const before = pv.input.slice(0, at);
    const after = pv.input.slice(at);
    const maxTs = new Map<number, number>();
    for (const r of before) maxTs.set(r.partition, Math.max(maxTs.get(r.partition) ?? -Infinity, r.timestamp));
    const watermark = Math.min(...maxTs.values());
    const open = new Set<string>();
    for (const r of before) {
      const page = (JSON.parse(r.value) as { page: string }).page;
      for (let s = r.timestamp - (r.timestamp % 20_000); s > r.timestamp - 60_000; s -= 20_000) if (s + 60_000 + 30_000 > watermark) open.add(`${s}|${page}`);
    }
    const touchedLater = new Set<string>();
    for (const r of after) {
      const page = (JSON.parse(r.value) as { page: string }).page;
      for (let s = r.timestamp - (r.timestamp % 20_000); s > r.timestamp - 60_000; s -= 20_000) touchedLater.add(`${s}|${page}`);
    }
    expect([...open].filter((w) => !touchedLater.has(w)).length).toBeGreaterThan(0);

    // late-sums: the record at the crash point is late by the stream time before it, on time by its own.
    const ls = makeCase('late-sums', 'x');
    const i = ls.crashPoint!.index;
    const late = (n: number) => ls.reference(WALL_CLOCK_START, ls.input.slice(0, n)).metrics['late-records']!;
    expect(late(i + 1) - late(i)).toBe(1);
  });
});
