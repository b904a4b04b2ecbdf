import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { invoiceJson, referenceKpis, type RefInput, type RefInvoice } from '../support/reference.ts';
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
