import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { InvalidReason } from '../../processors/invoice.ts';
import { encodeFramed, parseSchema } from '../../processors/avro/avro.ts';
import { createInvoiceSerde, decodeInvoiceValue, SchemaCache } from '../../processors/avro/invoice-serde.ts';
import { RegistryUnavailableError, StaticSchemaSource, type SchemaSource } from '../../processors/avro/registry.ts';
import { invoiceSchemaV1, invoiceSchemaV2 } from '../../processors/avro/schemas.ts';
import { buildKpiTopology } from '../../processors/kpi-topology.ts';
import { Serdes } from '../../topology/api/serdes.ts';
import { TopologyTestDriver } from '../../topology/runtimes/test-driver.ts';
import { mutate, mutationArb } from '../support/mutations.ts';
import { DEFAULT_MAX_FUTURE_MS } from '../../topology/runtimes/kafka/config.ts';
import { KPI_WALL_CLOCK, kpiDriverOptions } from '../support/kpi-driver.ts';

const V1 = parseSchema(invoiceSchemaV1);
const V2 = parseSchema(invoiceSchemaV2);
const REASONS: readonly InvalidReason[] = [
  'not-json', 'not-an-object', 'missing-field', 'wrong-type', 'bad-invoice-no', 'bad-country', 'bad-timestamp',
  'unknown-type', 'bad-items', 'bad-quantity', 'bad-unit-price', 'unknown-schema', 'bad-avro', 'bad-magic-byte',
];
const cache = new SchemaCache();
cache.set(1, { kind: 'found', type: V1 });
cache.set(2, { kind: 'found', type: V2 });
cache.set(3, { kind: 'unusable', detail: 'schema id 3 is not in the registry' });

const BASE = Date.UTC(2020, 8, 18, 10, 0, 0);
const pad = (n: number) => String(n).padStart(2, '0');
const feedTime = (ms: number) => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
};
const invoiceArb = fc.record({
  invoice_no: fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
  country: fc.constantFrom('United Kingdom', 'Germany', 'France', 'EIRE', '日本'),
  timestamp: fc.integer({ min: 0, max: 30 * 60 }).map((s) => feedTime(BASE + s * 1000)),
  type: fc.constantFrom('ORDER', 'ORDER', 'RETURN'),
  items: fc.array(
    fc.record({ SKU: fc.string({ maxLength: 6 }), title: fc.string({ maxLength: 20 }), unit_price: fc.integer({ min: 0, max: 9999 }).map((c) => c / 100), quantity: fc.integer({ min: 1, max: 50 }) }),
    { minLength: 1, maxLength: 4 },
  ),
});

/** A valid record in one of the three formats: JSON, Avro v1 (id 1), Avro v2 (id 2). */
const validRecordArb = fc.tuple(invoiceArb, fc.constantFrom('json', 'v1', 'v2'), fc.option(fc.string({ maxLength: 8 }))).map(([inv, format, customer]) => {
  if (format === 'v1') return encodeFramed(V1, 1, inv);
  if (format === 'v2') return encodeFramed(V2, 2, { ...inv, customer_id: customer, currency: 'GBP' });
  return new TextEncoder().encode(JSON.stringify({ ...inv, invoice_no: 0 }).replace('"invoice_no":0', `"invoice_no":${inv.invoice_no}`));
});

const mutatedArb = fc.tuple(validRecordArb, fc.array(mutationArb(), { minLength: 0, maxLength: 4 })).map(([r, ms]) => mutate(r, ms));
/** Random bytes, some behind a Confluent header with a known, unusable or unknown id. */
const randomArb = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.tuple(fc.constantFrom(1, 2, 3, 4, 0xffffffff), fc.uint8Array({ maxLength: 200 })).map(([id, body]) => encodeFramedRaw(id, body)),
);
function encodeFramedRaw(id: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  new DataView(out.buffer).setUint32(1, id);
  out.set(body, 5);
  return out;
}
const anyRecordArb = fc.oneof(validRecordArb, mutatedArb, randomArb, fc.constant(null));

function expectDecodedOrReason(bytes: Uint8Array | null) {
  const d = decodeInvoiceValue(bytes, cache, 'test registry');
  if (d.valid) {
    expect(typeof d.invoiceNo).toBe('string');
    expect(Number.isFinite(d.timestamp)).toBe(true);
    expect(Number.isSafeInteger(d.totalMicros)).toBe(true);
  } else {
    expect(REASONS).toContain(d.reason);
    expect(typeof d.detail).toBe('string');
    expect(d.detail.length).toBeGreaterThan(0);
  }
  return d;
}

describe('fuzzing the invoice decoders (JSON and Confluent-framed Avro)', () => {
  it('random bytes never throw: each is decoded or gets a known reason', () => {
    fc.assert(fc.property(randomArb, (b) => void expectDecodedOrReason(b)), { numRuns: 3000 });
  });

  it('valid records in every format decode, and to the same invoice', () => {
    fc.assert(
      fc.property(invoiceArb, (inv) => {
        const json = expectDecodedOrReason(new TextEncoder().encode(JSON.stringify({ ...inv, invoice_no: 0 }).replace('"invoice_no":0', `"invoice_no":${inv.invoice_no}`)));
        expect(json.valid).toBe(true);
        expect(expectDecodedOrReason(encodeFramed(V1, 1, inv))).toEqual(json);
        expect(expectDecodedOrReason(encodeFramed(V2, 2, { ...inv, customer_id: null, currency: 'GBP' }))).toEqual(json);
      }),
      { numRuns: 500 },
    );
  });

  it('mutated valid records never throw: each is decoded or gets a known reason', () => {
    fc.assert(fc.property(mutatedArb, (b) => void expectDecodedOrReason(b)), { numRuns: 3000 });
  });

  it('through the topology, every record is counted, late or dead-lettered: counts add up to the input', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(2), anyRecordArb), { minLength: 1, maxLength: 120 }), fc.integer({ min: 1, max: 30 }), (rows, batch) => {
        const topology = buildKpiTopology({
          inputTopic: 'in',
          windowMs: 60_000,
          graceMs: 120_000,
          invoiceSerde: createInvoiceSerde({ cache }),
          timeFinals: { topic: 'time' },
          lateRecords: { topic: 'late' },
        });
        const driver = new TopologyTestDriver(topology, kpiDriverOptions({ partitions: { in: 3 }, deadLetterQueueTopic: 'dead' }));
        const input = driver.createInputTopic('in', Serdes.string, Serdes.bytes);
        const records = rows.map(([partition, value]) => ({ key: null, value, options: { partition } }));
        for (let i = 0; i < records.length; i += batch) input.pipeBatch(records.slice(i, i + batch));
        driver.endOfInput();
        // Dead letters: invalid records, and valid ones a mutation moved too far into the future.
        const refused = rows.filter(([, v]) => {
          const d = decodeInvoiceValue(v, cache);
          return !d.valid || d.timestamp > KPI_WALL_CLOCK + DEFAULT_MAX_FUTURE_MS;
        });
        const dead = driver.createOutputTopic('dead', Serdes.string, Serdes.bytes).readValuesToList();
        const late = driver.createOutputTopic('late', Serdes.string, Serdes.bytes).readValuesToList().length;
        const counted = driver
          .createOutputTopic('time', Serdes.string, Serdes.string)
          .readValuesToList()
          .reduce((n, v) => n + (JSON.parse(v!) as { OPM: number }).OPM, 0);
        expect(dead).toHaveLength(refused.length);
        expect(counted + late + dead.length).toBe(rows.length);
        // Dead letters keep the original bytes.
        const inputsInvalid = refused.map(([, v]) => (v === null ? null : Buffer.from(v).toString('hex')));
        expect(dead.map((v) => (v === null ? null : Buffer.from(v).toString('hex'))).sort()).toEqual(inputsInvalid.sort());
      }),
      { numRuns: 150 },
    );
  });

  it('a flaky registry never turns a good record into a dead letter', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(11, 12, 13, 99), invoiceArb), { minLength: 1, maxLength: 30 }),
        fc.array(fc.boolean(), { maxLength: 40 }),
        async (rows, failures) => {
          const inner = new StaticSchemaSource(new Map<number, object>([[11, invoiceSchemaV1], [12, invoiceSchemaV2], [13, invoiceSchemaV1]]));
          let call = 0;
          const registry: SchemaSource = {
            description: 'flaky',
            // Down for the calls the array marks, then up for good.
            lookup: (id) => (failures[call++] === true ? Promise.reject(new RegistryUnavailableError('down')) : inner.lookup(id)),
          };
          const serde = createInvoiceSerde({ registry, retryInitialMs: 0, retryMaxMs: 0 });
          const values = rows.map(([id, inv]) => encodeFramed(id === 12 ? V2 : V1, id, id === 12 ? { ...inv, customer_id: null, currency: 'GBP' } : inv));
          await serde.prepare!(values);
          for (let i = 0; i < rows.length; i++) {
            if (rows[i]![0] === 99) expect(() => serde.deserialize(values[i]!)).toThrow(expect.objectContaining({ reason: 'unknown-schema' }));
            else expect(serde.deserialize(values[i]!).decoded.valid).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
