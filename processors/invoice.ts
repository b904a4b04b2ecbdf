/**
 * The invoice contract of docs/design.md: a validating decoder and the per-invoice enrichment.
 * Decoding never throws: a bad record becomes an `InvalidInvoice` with a reason (the serde
 * turns that into a `RecordRejectedError`, so the runtime dead-letters it under that reason).
 */

import { isUtf8 } from 'node:buffer';
import { scanInvoice } from './invoice-scan.ts';
import { MICROS, parseTimestamp } from './invoice-values.ts';

export interface Invoice {
  readonly valid: true;
  /** Decimal digits: invoice numbers go up to 2^63-1, beyond a double's exact range. */
  readonly invoiceNo: string;
  readonly country: string;
  /** Event time, epoch ms UTC. */
  readonly timestamp: number;
  readonly isReturn: boolean;
  /** total_cost in micros, negative for a RETURN. */
  readonly totalMicros: number;
  readonly totalItems: number;
}

export type InvalidReason =
  | 'not-json'
  | 'not-an-object'
  | 'missing-field'
  | 'wrong-type'
  | 'bad-invoice-no'
  | 'bad-country'
  | 'bad-timestamp'
  | 'unknown-type'
  | 'bad-items'
  | 'bad-quantity'
  | 'bad-unit-price'
  // Confluent-framed Avro (processors/avro/): an id the registry does not know, a body that is
  // not valid Avro for its schema (truncated, trailing bytes, corrupt counts), a first byte
  // that is neither the magic byte 0x00 nor the start of JSON.
  | 'unknown-schema'
  | 'bad-avro'
  | 'bad-magic-byte';

export interface InvalidInvoice {
  readonly valid: false;
  readonly reason: InvalidReason;
  readonly detail: string;
}

/** A valid invoice with the bytes it came from, kept for the late output. */
export interface InvoiceRecord {
  readonly decoded: Invoice;
  readonly raw: Uint8Array | null;
}

export type DecodedInvoice = Invoice | InvalidInvoice;

const invalid = (reason: InvalidReason, detail: string): InvalidInvoice => ({ valid: false, reason, detail });

const MAX_LONG = (1n << 63n) - 1n;

/** The source text of the top-level invoice_no, via the reviver's access to number sources. */
function topLevelInvoiceNoSource(text: string): string | undefined {
  const sources = new Map<object, string>();
  let root: unknown;
  JSON.parse(text, function (this: object, key: string, value: unknown, context?: { source?: string }) {
    if (key === 'invoice_no' && context?.source !== undefined) sources.set(this, context.source);
    if (key === '') root = value;
    return value;
  } as (this: unknown, key: string, value: unknown) => unknown);
  return typeof root === 'object' && root !== null ? sources.get(root) : undefined;
}
function invoiceNumber(value: unknown, source: string): string | InvalidInvoice {
  if (typeof value !== 'number') return invalid('wrong-type', `invoice_no must be an integer, got ${typeName(value)}`);
  if (Number.isSafeInteger(value)) {
    if (value < 0) return invalid('bad-invoice-no', `invoice_no must not be negative, got ${value}`);
    return String(value);
  }
  // Beyond 2^53 the parsed double has lost digits: read them from the text itself (rare path).
  const digits = topLevelInvoiceNoSource(source);
  if (digits === undefined || !/^[0-9]+$/.test(digits)) return invalid('bad-invoice-no', `invoice_no must be an integer, got ${digits ?? value}`);
  if (BigInt(digits) > MAX_LONG) return invalid('bad-invoice-no', `invoice_no ${digits} is beyond 2^63-1`);
  return digits.replace(/^0+(?=\d)/, '');
}

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Validates a parsed JSON invoice and derives total_cost and total_items. */
export function validateInvoice(doc: unknown, source: string): DecodedInvoice {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return invalid('not-an-object', `expected a JSON object, got ${typeName(doc)}`);
  const o = doc as Record<string, unknown>;
  const { invoice_no, country, timestamp, type, items } = o;
  if (invoice_no === undefined) return invalid('missing-field', 'invoice_no is missing');
  if (country === undefined) return invalid('missing-field', 'country is missing');
  if (timestamp === undefined) return invalid('missing-field', 'timestamp is missing');
  if (type === undefined) return invalid('missing-field', 'type is missing');
  if (items === undefined) return invalid('missing-field', 'items is missing');
  const invoiceNo = invoiceNumber(invoice_no, source);
  if (typeof invoiceNo !== 'string') return invoiceNo;
  if (typeof country !== 'string') return invalid('wrong-type', `country must be a string, got ${typeName(country)}`);
  if (country.trim().length === 0) return invalid('bad-country', 'country is empty');
  if (typeof timestamp !== 'string') return invalid('wrong-type', `timestamp must be a string, got ${typeName(timestamp)}`);
  const ts = parseTimestamp(timestamp);
  if (Number.isNaN(ts)) return invalid('bad-timestamp', `timestamp ${JSON.stringify(timestamp)} is not YYYY-MM-DD HH:MM:SS or ISO-8601`);
  if (typeof type !== 'string') return invalid('wrong-type', `type must be a string, got ${typeName(type)}`);
  let isReturn: boolean;
  if (type === 'ORDER') isReturn = false;
  else if (type === 'RETURN') isReturn = true;
  else return invalid('unknown-type', `type must be ORDER or RETURN, got ${JSON.stringify(type)}`);
  if (!Array.isArray(items)) return invalid('wrong-type', `items must be an array, got ${typeName(items)}`);
  let micros = 0;
  let count = 0;
  for (let i = 0; i < items.length; i++) {
    const item: unknown = items[i];
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return invalid('bad-items', `items[${i}] must be an object, got ${typeName(item)}`);
    const { quantity, unit_price } = item as Record<string, unknown>;
    if (quantity === undefined) return invalid('missing-field', `items[${i}].quantity is missing`);
    if (unit_price === undefined) return invalid('missing-field', `items[${i}].unit_price is missing`);
    if (typeof quantity !== 'number') return invalid('wrong-type', `items[${i}].quantity must be a number, got ${typeName(quantity)}`);
    if (!Number.isInteger(quantity) || quantity <= 0) return invalid('bad-quantity', `items[${i}].quantity must be a positive integer, got ${quantity}`);
    if (typeof unit_price !== 'number') return invalid('wrong-type', `items[${i}].unit_price must be a number, got ${typeName(unit_price)}`);
    if (!Number.isFinite(unit_price) || unit_price < 0) return invalid('bad-unit-price', `items[${i}].unit_price must be a finite number >= 0, got ${unit_price}`);
    // Prices are exact to a millionth: the shortest decimal of the double, rounded to 6 places.
    const line = Math.round(unit_price * MICROS) * quantity;
    micros += line;
    count += quantity;
  }
  if (!Number.isSafeInteger(micros) || !Number.isSafeInteger(count))
    return invalid('bad-unit-price', 'invoice total is beyond the exact range of 2^53 micros');
  return { valid: true, invoiceNo, country, timestamp: ts, isReturn, totalMicros: isReturn ? -micros : micros, totalItems: count };
}

/** Bytes of one Kafka record or one file line to a decoded invoice. */
export function decodeInvoice(bytes: Uint8Array | null): DecodedInvoice {
  if (bytes === null) return invalid('not-json', 'record has no value');
  // Most lines are valid invoices of the usual shape: one pass over the bytes, no objects built.
  // The scanner returns only results the reference gives; anything else is decided below.
  return scanInvoice(bytes) ?? decodeInvoiceReference(bytes);
}

/** The decoder by the book (UTF-8 check, JSON.parse, validation), which the scanner must match. */
export function decodeInvoiceReference(bytes: Uint8Array | null): DecodedInvoice {
  if (bytes === null) return invalid('not-json', 'record has no value');
  // isUtf8 is a vectorised check; decoding a Buffer view is cheaper than a fatal TextDecoder.
  if (!isUtf8(bytes)) return invalid('not-json', 'value is not valid UTF-8');
  const view = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return decodeInvoiceText(view.toString('utf8'));
}

export function decodeInvoiceText(text: string): DecodedInvoice {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return invalid('not-json', (e as Error).message);
  }
  return validateInvoice(doc, text);
}
