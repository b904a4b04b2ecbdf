import { describe, expect, it } from 'vitest';
import { decodeInvoiceText, type InvalidReason } from '../../processors/invoice.ts';
import { encodeFramed, frame, parseSchema } from '../../processors/avro/avro.ts';
import { createInvoiceSerde, decodeInvoiceValue, SchemaCache } from '../../processors/avro/invoice-serde.ts';
import { avroValueSerde } from '../../processors/avro/kpi-serde.ts';
import { RegistryUnavailableError, StaticSchemaSource, type SchemaLookup, type SchemaSource } from '../../processors/avro/registry.ts';
import { countryKpiSchema, invoiceSchemaV1, invoiceSchemaV2, timeKpiSchema } from '../../processors/avro/schemas.ts';
import { buildKpiTopology } from '../../processors/kpi-topology.ts';
import { Serdes } from '../../topology/api/serdes.ts';
import { TopologyTestDriver } from '../../topology/runtimes/test-driver.ts';
import { InvoiceGenerator, invoiceJsonLine } from '../../simulator/generator.ts';
import { avroInvoice, encodeStructured } from '../../simulator/producer.ts';
import { parseFeedLine, referenceKpis, type RefInput } from '../support/reference.ts';
import { kpiDriverOptions } from '../support/kpi-driver.ts';

const V1 = parseSchema(invoiceSchemaV1);
const V2 = parseSchema(invoiceSchemaV2);
const ITEM = { SKU: '21485', title: 'RETROSPOT HEART HOT WATER BOTTLE', unit_price: 4.95, quantity: 6 };
const BASE = { invoice_no: 154132541653705n, country: 'United Kingdom', timestamp: '2020-09-18 10:55:23', type: 'ORDER', items: [ITEM] };

const cacheWith = (...entries: [number, SchemaLookup][]) => {
  const c = new SchemaCache();
  for (const [id, l] of entries) c.set(id, l);
  return c;
};
const CACHE = cacheWith([1, { kind: 'found', type: V1 }], [2, { kind: 'found', type: V2 }], [9, { kind: 'unusable', detail: 'schema id 9 is not in the registry' }]);
const decode = (bytes: Uint8Array | null) => decodeInvoiceValue(bytes, CACHE, 'test registry');
const expectReason = (bytes: Uint8Array | null, reason: InvalidReason) => {
  const d = decode(bytes);
  expect(d).toMatchObject({ valid: false, reason });
  if (!d.valid) expect(d.detail.length).toBeGreaterThan(0);
};

describe('Avro invoices: the same logical record as the JSON feed', () => {
  it('decodes v1 and v2 records to exactly what the JSON line decodes to', () => {
    const json = decodeInvoiceText(JSON.stringify({ ...BASE, invoice_no: Number(BASE.invoice_no) }));
    expect(json.valid).toBe(true);
    expect(decode(encodeFramed(V1, 1, BASE))).toEqual(json);
    expect(decode(encodeFramed(V2, 2, { ...BASE, customer_id: 'C17', currency: 'GBP' }))).toEqual(json);
    expect(decode(encodeFramed(V2, 2, { ...BASE, customer_id: null, currency: 'EUR' }))).toEqual(json);
  });

  it('keeps every digit of invoice numbers up to 2^63-1 and refuses negative ones', () => {
    for (const n of [0n, 9007199254740993n, 9223372036854775807n]) {
      const d = decode(encodeFramed(V1, 1, { ...BASE, invoice_no: n }));
      expect(d).toMatchObject({ valid: true, invoiceNo: n.toString() });
    }
    for (const n of [-1n, -9223372036854775808n]) expectReason(encodeFramed(V1, 1, { ...BASE, invoice_no: n }), 'bad-invoice-no');
  });

  it('applies the JSON checks to Avro values', () => {
    expectReason(encodeFramed(V1, 1, { ...BASE, type: 'EXCHANGE' }), 'unknown-type');
    expectReason(encodeFramed(V1, 1, { ...BASE, timestamp: '2020-13-45 99:00:00' }), 'bad-timestamp');
    expectReason(encodeFramed(V1, 1, { ...BASE, country: ' ' }), 'bad-country');
    expectReason(encodeFramed(V1, 1, { ...BASE, items: [{ ...ITEM, quantity: -3 }] }), 'bad-quantity');
    expectReason(encodeFramed(V1, 1, { ...BASE, items: [{ ...ITEM, unit_price: Number.NaN }] }), 'bad-unit-price');
    // A record of another schema (a KPI) in the invoice topic.
    const kpi = parseSchema(timeKpiSchema);
    const c = cacheWith([5, { kind: 'found', type: kpi }]);
    const bytes = encodeFramed(kpi, 5, { window: { start: 'a', end: 'b' }, OPM: 1, total_sale_volume: 1, average_transaction_size: 1, rate_of_return: 0 });
    expect(decodeInvoiceValue(bytes, c)).toMatchObject({ valid: false, reason: 'missing-field' });
  });
});

describe('Avro invoices: bad framing and bodies are dead-lettered with a reason', () => {
  const good = encodeFramed(V1, 1, BASE);
  it('an id the registry does not know', () => {
    expectReason(encodeFramed(V1, 9, BASE), 'unknown-schema');
    expect(decodeInvoiceValue(encodeFramed(V1, 3, BASE), CACHE, 'test registry')).toMatchObject({ reason: 'unknown-schema', detail: expect.stringMatching(/not resolved/) });
    expect(decodeInvoiceValue(good, new SchemaCache())).toMatchObject({ reason: 'unknown-schema', detail: expect.stringMatching(/--registry/) });
  });
  it('a truncated body, trailing bytes, a header cut short', () => {
    for (let n = 5; n < good.length; n++) expectReason(good.subarray(0, n), 'bad-avro');
    for (let n = 1; n < 5; n++) expectReason(good.subarray(0, n), 'bad-avro');
    expectReason(Buffer.concat([good, Buffer.from([1, 2, 3])]), 'bad-avro');
  });
  it('a wrong magic byte', () => {
    for (const b of [1, 2, 8, 0x1f]) {
      const bad = Buffer.from(good);
      bad[0] = b;
      expectReason(bad, 'bad-magic-byte');
    }
  });
  it('a huge array count neither allocates nor spins', () => {
    // items: a count of 2^31 with a handful of bytes behind it.
    const head = frame(1, V1.toBuffer({ ...BASE, items: [] }).subarray(0, -1));
    const hostile = Buffer.concat([head, Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x0f, 0x02, 0x41])]);
    const t0 = Date.now();
    expectReason(hostile, 'bad-avro');
    expect(Date.now() - t0).toBeLessThan(100);
  });
  it('JSON faults are what they always were', () => {
    expectReason(new TextEncoder().encode('this is not json'), 'not-json');
    expectReason(new TextEncoder().encode('[]'), 'not-an-object');
    expectReason(Buffer.from([0xff, 0xfe, 0x00, 0x41]), 'not-json');
    expectReason(null, 'not-json');
    expectReason(new Uint8Array(0), 'not-json');
  });
});

/** A registry that fails `failures` times for each id, then answers from `schemas`. */
function flakyRegistry(schemas: Map<number, object>, failures: number): SchemaSource & { calls: number[] } {
  const inner = new StaticSchemaSource(schemas);
  const failed = new Map<number, number>();
  const calls: number[] = [];
  return {
    description: 'flaky registry',
    calls,
    lookup(id) {
      calls.push(id);
      const n = failed.get(id) ?? 0;
      if (n < failures) {
        failed.set(id, n + 1);
        return Promise.reject(new RegistryUnavailableError('connect ECONNREFUSED'));
      }
      return inner.lookup(id);
    },
  };
}

describe('the invoice serde resolves schema ids in prepare', () => {
  it('waits and retries while the registry is down: the record is decoded, not dead-lettered', async () => {
    const registry = flakyRegistry(new Map([[7, invoiceSchemaV2]]), 4);
    const warnings: string[] = [];
    const log = { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} };
    const serde = createInvoiceSerde({ registry, retryInitialMs: 1, retryMaxMs: 4, log });
    const v = encodeFramed(V2, 7, { ...BASE, customer_id: null, currency: 'GBP' });
    await serde.prepare!([v, v, null, new TextEncoder().encode('{}')]);
    expect(registry.calls).toEqual([7, 7, 7, 7, 7]);
    expect(serde.deserialize(v).decoded.valid).toBe(true);
    expect(warnings.length).toBeGreaterThan(0);
    // Cached: the next batch asks nothing.
    await serde.prepare!([v]);
    expect(registry.calls).toHaveLength(5);
  });

  it('an id the registry answers "not found" for is dead-lettered, and asked again only after a while', async () => {
    const registry = flakyRegistry(new Map(), 0);
    const cache = new SchemaCache(50);
    const serde = createInvoiceSerde({ registry, cache });
    const v = encodeFramed(V1, 12345, BASE);
    await serde.prepare!([v]);
    expect(() => serde.deserialize(v)).toThrow(expect.objectContaining({ name: 'RecordRejectedError', reason: 'unknown-schema' }));
    await serde.prepare!([v]);
    expect(registry.calls).toEqual([12345]);
    await new Promise((r) => setTimeout(r, 60));
    await serde.prepare!([v]);
    expect(registry.calls).toEqual([12345, 12345]);
  });

  it('close() ends a wait for a registry that never comes back, without deciding the record', async () => {
    const registry = flakyRegistry(new Map([[1, invoiceSchemaV1]]), Number.POSITIVE_INFINITY);
    const serde = createInvoiceSerde({ registry, retryInitialMs: 5 });
    const v = encodeFramed(V1, 1, BASE);
    const pending = serde.prepare!([v]);
    setTimeout(() => serde.close(), 30);
    await expect(pending).rejects.toThrow(/stopped while waiting/);
    expect(serde.cache.get(1)).toBeUndefined();
  });
});

describe('the KPI topology on a topic mixing JSON, Avro v1 and Avro v2', () => {
  it('gives the reference KPIs and dead-letters the simulator\'s bad records with their reasons', () => {
    const cache = cacheWith([1, { kind: 'found', type: V1 }], [2, { kind: 'found', type: V2 }]);
    const topology = buildKpiTopology({
      inputTopic: 'in',
      windowMs: 60_000,
      graceMs: 120_000,
      invoiceSerde: createInvoiceSerde({ cache }),
      timeFinals: { topic: 'time' },
      countryFinals: { topic: 'country' },
      timeUpdates: { topic: 'time-avro' },
      timeKpiSerde: avroValueSerde('time-kpi', parseSchema(timeKpiSchema), 3),
      lateRecords: { topic: 'late' },
    });
    const driver = new TopologyTestDriver(topology, kpiDriverOptions({ partitions: { in: 3 }, deadLetterQueueTopic: 'dead' }));
    const input = driver.createInputTopic('in', Serdes.string, Serdes.bytes);
    const gen = new InvoiceGenerator({ seed: 3, badRatio: 0.05, lateRatio: 0.02, outOfOrderRatio: 0.05, graceMs: 120_000 });
    const start = Date.UTC(2020, 8, 18, 10, 0, 0);
    const ref: RefInput[] = [];
    const expectedDead: string[] = [];
    const records: { key: string | null; value: Uint8Array | null; options: { partition: number } }[] = [];
    for (let i = 0; i < 3000; i++) {
      const format = i % 3;
      const now = start + i * 200;
      const partition = i % 3;
      let value: Uint8Array;
      if (format === 0) {
        const g = gen.next(now);
        value = new TextEncoder().encode(g.text);
        const inv = parseFeedLine(g.text);
        if (inv === null) expectedDead.push('json');
        else ref.push({ partition, invoice: inv });
      } else {
        const version = format === 1 ? '1' : '2';
        const g = gen.nextStructured(now);
        const encoded = encodeStructured(g, version === '1' ? V1 : V2, format, version);
        value = typeof encoded === 'string' ? new TextEncoder().encode(encoded) : encoded;
        if (g.kind === 'bad') expectedDead.push(g.fault);
        else ref.push({ partition, invoice: parseFeedLine(invoiceJsonLine(g.invoice))! });
      }
      records.push({ key: null, value, options: { partition } });
    }
    for (let i = 0; i < records.length; i += 50) input.pipeBatch(records.slice(i, i + 50));
    driver.endOfInput();
    const expected = referenceKpis(ref, 60_000, 120_000);
    const out = (t: string) => driver.createOutputTopic(t, Serdes.string, Serdes.string);
    const timeAvro = avroValueSerde<object>('time-kpi', parseSchema(timeKpiSchema), 3);
    // Topic outputs of time KPIs are Avro here, updates and finals alike.
    const finals = driver.createOutputTopic('time', Serdes.string, timeAvro).readValuesToList().map((v) => JSON.stringify(v));
    expect(finals.sort()).toEqual([...expected.time].sort());
    expect(out('country').readValuesToList().sort()).toEqual([...expected.country].sort());
    expect(out('late').readRecordsToList()).toHaveLength(expected.late);
    const dead = driver.createOutputTopic('dead', Serdes.bytes, Serdes.bytes).readRecordsToList();
    expect(dead).toHaveLength(expectedDead.length);
    const reasons = new Set(dead.map((d) => d.headers?.['rs-reason']));
    for (const r of ['unknown-schema', 'bad-avro', 'bad-magic-byte']) expect(reasons).toContain(r);
    for (const d of dead) expect(d.headers).toMatchObject({ 'rs-source-topic': 'in', 'rs-source-partition': expect.any(String), 'rs-source-offset': expect.any(String) });
    // The Avro update topic reads back as the JSON KPIs.
    const avroOut = driver.createOutputTopic('time-avro', Serdes.string, timeAvro);
    const latest = new Map(avroOut.readKeyValuesToList());
    expect([...latest.values()].map((v) => JSON.stringify(v)).sort()).toEqual([...expected.time].sort());
  });
});

describe('KPI values in Avro', () => {
  it('round-trip through the registered schemas', () => {
    const window = { start: '2020-09-18T10:55:00.000Z', end: '2020-09-18T10:56:00.000Z' };
    const t = avroValueSerde<object>('t', parseSchema(timeKpiSchema), 4);
    const c = avroValueSerde<object>('c', parseSchema(countryKpiSchema), 5);
    const time = { window, OPM: 12, total_sale_volume: 1234.56, average_transaction_size: 102.88, rate_of_return: 0.0833 };
    const country = { window, country: 'Germany', OPM: 1, total_sale_volume: 61.46, rate_of_return: 0 };
    expect(t.deserialize(t.serialize(time))).toEqual(time);
    expect(c.deserialize(c.serialize(country))).toEqual(country);
    expect(t.serialize(null as unknown as object)).toBeNull();
    expect(() => t.deserialize(c.serialize(country))).toThrow(/schema id 5/);
  });

  it('the simulator writes v2 fields the registry schema accepts', () => {
    const gen = new InvoiceGenerator({ seed: 1 });
    const f = gen.invoiceFields(Date.UTC(2020, 0, 1));
    expect(V2.isValid(avroInvoice(f, '2'))).toBe(true);
    expect(V1.isValid(avroInvoice(f, '1'))).toBe(true);
  });
});
