import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { invoiceJson, referenceKpis, type RefInput, type RefInvoice } from '../support/reference.ts';
import { Serdes } from '../../topology/api/serdes.ts';
import { kpiDriver, TOPICS } from '../support/kpi-driver.ts';

const BASE = Date.UTC(2020, 8, 18, 10, 0, 0);
const COUNTRIES = ['United Kingdom', 'Germany', 'France', 'EIRE', 'España', 'Österreich', '日本'];

const itemArb = fc.record({
  unit_price: fc.integer({ min: 0, max: 50_000 }).map((c) => c / 100),
  quantity: fc.integer({ min: 1, max: 50 }),
});
const invoiceArb: fc.Arbitrary<RefInvoice> = fc.record({
  invoice_no: fc.integer({ min: 1, max: 2 ** 40 }),
  country: fc.constantFrom(...COUNTRIES),
  // Whole seconds over ~40 minutes: windows of one minute, grace of a few, so some are late.
  ts: fc.integer({ min: 0, max: 40 * 60 }).map((s) => BASE + s * 1000),
  type: fc.constantFrom('ORDER', 'ORDER', 'ORDER', 'RETURN') as fc.Arbitrary<'ORDER' | 'RETURN'>,
  items: fc.array(itemArb, { minLength: 1, maxLength: 5 }),
});

function run(records: readonly RefInput[], partitions: number, graceMs: number, batch: number) {
  const { driver, input, out } = kpiDriver({ partitions, graceMs });
  for (let i = 0; i < records.length; i += batch) {
    input.pipeBatch(records.slice(i, i + batch).map((r) => ({ key: null, value: invoiceJson(r.invoice), options: { partition: r.partition } })));
  }
  driver.endOfInput();
  return {
    time: out(TOPICS.timeFinals).readValuesToList(),
    country: out(TOPICS.countryFinals).readValuesToList(),
    updates: out(TOPICS.timeUpdates).readKeyValuesToList(),
    late: out(TOPICS.late).readRecordsToList().length,
    driver,
  };
}

describe('KPI topology against a brute-force reference', () => {
  it('gives the reference KPIs for random out-of-order streams over random partitions', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.tuple(fc.nat(4), invoiceArb), { minLength: 1, maxLength: 150 }),
        fc.constantFrom(0, 60_000, 300_000),
        fc.integer({ min: 1, max: 40 }),
        (partitions, rows, graceMs, batch) => {
          const records = rows.map(([p, invoice]) => ({ partition: p % partitions, invoice }));
          const expected = referenceKpis(records, 60_000, graceMs);
          const got = run(records, partitions, graceMs, batch);
          // Windows close in different stage-two tasks, so only the order within a task is fixed.
          expect([...got.time].sort()).toEqual([...expected.time].sort());
          expect([...got.country].sort()).toEqual([...expected.country].sort());
          expect(got.late).toBe(expected.late);
          // The update topic ends, per window, on the final value.
          const latest = new Map(got.updates);
          expect([...latest.values()].sort()).toEqual([...expected.time].sort());
        },
      ),
      { numRuns: 150 },
    );
  });

  it('never turns an on-time invoice late because another partition runs behind', () => {
    // Partition 0 races 30 minutes ahead before partition 1 delivers its backlog.
    const ahead: RefInput[] = Array.from({ length: 30 }, (_, m) => ({ partition: 0, invoice: { invoice_no: m, country: 'Germany', ts: BASE + m * 60_000, type: 'ORDER', items: [{ unit_price: 1, quantity: 1 }] } }));
    const behind: RefInput[] = Array.from({ length: 30 }, (_, m) => ({ partition: 1, invoice: { invoice_no: 100 + m, country: 'France', ts: BASE + m * 60_000 + 5_000, type: 'RETURN', items: [{ unit_price: 2.5, quantity: 2 }] } }));
    const got = run([...ahead, ...behind], 2, 60_000, 10);
    expect(got.late).toBe(0);
    expect(got.time).toHaveLength(30);
    expect(JSON.parse(got.time[0]!)).toMatchObject({ OPM: 2, total_sale_volume: -4, average_transaction_size: -2, rate_of_return: 0.5 });
  });
});

describe('KPI topology: what the runtime dead-letters', () => {
  const at = (ts: number, no: number): string => invoiceJson({ invoice_no: no, country: 'Germany', ts, type: 'ORDER', items: [{ unit_price: 1.5, quantity: 2 }] });
  const YEAR_9999 = Date.UTC(9999, 11, 31, 23, 59, 59);
  const text = new TextDecoder();

  it('an invoice stamped 9999-12-31 23:59:59 closes no window: it is dead-lettered as future-timestamp, the next invoice is on time', () => {
    const { driver, input, out } = kpiDriver({ partitions: 1, graceMs: 60_000 });
    input.pipeInput(null, at(BASE, 1));
    input.pipeInput(null, at(YEAR_9999, 2));
    input.pipeInput(null, at(BASE + 10_000, 3));
    expect(out(TOPICS.timeFinals).readValuesToList()).toEqual([]);
    driver.endOfInput();
    expect(out(TOPICS.late).readRecordsToList()).toHaveLength(0);
    const finals = out(TOPICS.timeFinals).readValuesToList().map((v) => JSON.parse(v!) as { window: { start: string }; OPM: number });
    expect(finals).toEqual([expect.objectContaining({ window: expect.objectContaining({ start: new Date(BASE).toISOString() }), OPM: 2, total_sale_volume: 6 })]);
    const dead = driver.createOutputTopic(TOPICS.deadLetters, Serdes.bytes, Serdes.bytes).readRecordsToList();
    expect(dead.map((d) => text.decode(d.value!))).toEqual([at(YEAR_9999, 2)]);
    expect(dead[0]!.headers).toMatchObject({ 'rs-reason': 'future-timestamp', 'rs-source-topic': TOPICS.input, 'rs-source-partition': '0', 'rs-source-offset': '1' });
    expect(dead[0]!.headers!['rs-detail']).toMatch(/^9999-12-31T23:59:59\.000Z is more than 3600000 ms ahead of the wall clock/);
    expect(driver.metric('dead-letter-records')).toBe(1);
    expect(driver.metric('valid-records')).toBe(2);
  });

  it('with the guard off (maxFutureMs: Infinity), the same invoice closes the window and the next one is late', () => {
    const { driver, input, out } = kpiDriver({ partitions: 1, graceMs: 60_000, maxFutureMs: Number.POSITIVE_INFINITY });
    input.pipeInput(null, at(BASE, 1));
    input.pipeInput(null, at(YEAR_9999, 2));
    input.pipeInput(null, at(BASE + 10_000, 3));
    driver.endOfInput();
    expect(out(TOPICS.late).readRecordsToList()).toHaveLength(1);
    expect(out(TOPICS.timeFinals).readValuesToList()).toHaveLength(2);
    expect(driver.deadLetters).toEqual([]);
  });

  it('invalid invoices go to the dead-letter topic under the decoder\u2019s reason, with their origin, and never stop the pipeline', () => {
    const { driver, input, out } = kpiDriver({ partitions: 2 });
    input.pipeInput(null, 'this is not json', { partition: 1 });
    input.pipeInput(null, at(BASE, 1), { partition: 0 });
    input.pipeInput(null, at(BASE, 2).replace('"ORDER"', '"EXCHANGE"'), { partition: 0 });
    input.pipeInput(null, at(BASE + 1000, 3), { partition: 1 });
    driver.endOfInput();
    expect(out(TOPICS.timeFinals).readValuesToList().map((v) => (JSON.parse(v!) as { OPM: number }).OPM)).toEqual([2]);
    const dead = driver.createOutputTopic(TOPICS.deadLetters, Serdes.bytes, Serdes.bytes).readRecordsToList();
    expect(dead.map((d) => [d.headers!['rs-reason'], d.headers!['rs-source-partition'], d.headers!['rs-source-offset'], text.decode(d.value!)])).toEqual([
      ['not-json', '1', '0', 'this is not json'],
      ['unknown-type', '0', '1', at(BASE, 2).replace('"ORDER"', '"EXCHANGE"')],
    ]);
    expect(dead[1]!.headers!['rs-detail']).toBe('type must be ORDER or RETURN, got "EXCHANGE"');
    expect(driver.metric('dead-letter-records')).toBe(2);
  });
});
