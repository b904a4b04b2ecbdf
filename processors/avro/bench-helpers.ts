/**
 * For the benchmark harness: the same generated invoices as JSON lines and as Confluent-framed
 * Avro, and the decode loop the pipeline runs on them (the invoice serde's `deserialize`), so
 * Avro and JSON decode throughput can be compared on identical data.
 *
 *   const data = encodeInvoices(100_000, { seed: 42 });
 *   const r = measureDecode(data);   // { json: { records, ms, perSecond }, avro: {...}, ratio }
 */
import { InvoiceGenerator, invoiceJsonLine } from '../../simulator/generator.ts';
import { avroInvoice } from '../../simulator/producer.ts';
import { encodeFramed, parseSchema } from './avro.ts';
import { createInvoiceSerde, SchemaCache } from './invoice-serde.ts';
import { INVOICE_SCHEMAS, type InvoiceSchemaVersion } from './schemas.ts';

export interface EncodedInvoices {
  /** Each invoice as its JSON feed line, UTF-8. */
  readonly json: Uint8Array[];
  /** The same invoices, Confluent-framed Avro. */
  readonly avro: Uint8Array[];
  /** Schema cache holding the schema `avro` was framed with. */
  readonly cache: SchemaCache;
  readonly schemaId: number;
  readonly jsonBytes: number;
  readonly avroBytes: number;
}

/** N seeded invoices (one a second from 2020-09-18T10:00Z), as JSON and as Avro. */
export function encodeInvoices(n: number, options: { seed?: number; schemaVersion?: Exclude<InvoiceSchemaVersion, 'incompatible'>; schemaId?: number } = {}): EncodedInvoices {
  const version = options.schemaVersion ?? '1';
  const schemaId = options.schemaId ?? 1;
  const type = parseSchema(INVOICE_SCHEMAS[version]);
  const gen = new InvoiceGenerator({ seed: options.seed ?? 42 });
  const encoder = new TextEncoder();
  const json: Uint8Array[] = new Array(n);
  const avro: Uint8Array[] = new Array(n);
  let jsonBytes = 0;
  let avroBytes = 0;
  const start = Date.UTC(2020, 8, 18, 10, 0, 0);
  for (let i = 0; i < n; i++) {
    const f = gen.invoiceFields(start + i * 1000);
    json[i] = encoder.encode(invoiceJsonLine(f));
    avro[i] = encodeFramed(type, schemaId, avroInvoice(f, version));
    jsonBytes += json[i]!.length;
    avroBytes += avro[i]!.length;
  }
  const cache = new SchemaCache();
  cache.set(schemaId, { kind: 'found', type });
  return { json, avro, cache, schemaId, jsonBytes, avroBytes };
}

/** Decodes every payload as the pipeline does; returns how many were valid invoices. */
export function decodeAll(payloads: readonly Uint8Array[], cache: SchemaCache): number {
  const serde = createInvoiceSerde({ cache });
  let valid = 0;
  for (let i = 0; i < payloads.length; i++) if (serde.deserialize(payloads[i]!).decoded.valid) valid++;
  return valid;
}

export interface DecodeRate {
  readonly records: number;
  readonly ms: number;
  readonly perSecond: number;
  readonly bytesPerRecord: number;
}

const rate = (payloads: readonly Uint8Array[], cache: SchemaCache, bytes: number, rounds: number): DecodeRate => {
  decodeAll(payloads, cache); // warm-up
  const t0 = performance.now();
  let valid = 0;
  for (let r = 0; r < rounds; r++) valid += decodeAll(payloads, cache);
  const ms = performance.now() - t0;
  if (valid !== payloads.length * rounds) throw new Error(`decoded ${valid} valid invoices of ${payloads.length * rounds}`);
  const records = payloads.length * rounds;
  return { records, ms, perSecond: records / (ms / 1000), bytesPerRecord: bytes / payloads.length };
};

/** Decode throughput of the same invoices as JSON and as Avro; `ratio` is Avro / JSON. */
export function measureDecode(data: EncodedInvoices, rounds = 3): { json: DecodeRate; avro: DecodeRate; ratio: number } {
  const json = rate(data.json, data.cache, data.jsonBytes, rounds);
  const avro = rate(data.avro, data.cache, data.avroBytes, rounds);
  return { json, avro, ratio: avro.perSecond / json.perSecond };
}
