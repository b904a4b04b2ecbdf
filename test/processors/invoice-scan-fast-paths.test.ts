import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeInvoice, decodeInvoiceReference, type DecodedInvoice } from '../../processors/invoice.ts';
import { scanInvoice } from '../../processors/invoice-scan.ts';
import { InvoiceGenerator, type LineShape } from '../../simulator/generator.ts';
import { mutate, mutationArb } from '../support/mutations.ts';

// The scanner's fast forms (keys compared a word at a time, `:`/`,` with no or one space,
// quantities and prices read straight to integers) must give what the contract gives. Two
// references: the project's own JSON.parse path (reasons and details of invalid records), and
// for valid records an oracle written here from the contract alone (JSON.parse, the rules of
// docs/design.md), so that the two decoders cannot agree on a shared mistake.

const utf8 = (text: string) => Buffer.from(text, 'utf8');

const ZONED = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Epoch ms of a contract timestamp, through Date's own calendar; NaN when it is none. */
function oracleTime(text: string): number {
  const m = ZONED.exec(text);
  if (m === null) return Number.NaN;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0')));
  // Date rolls an impossible date or time over to the next: the contract refuses it.
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day || d.getUTCHours() !== hour || d.getUTCMinutes() !== minute || d.getUTCSeconds() !== second) return Number.NaN;
  const zone = m[8];
  if (zone === undefined || zone === 'Z') return d.getTime();
  const digits = zone.slice(1).replace(':', '');
  const oh = Number(digits.slice(0, 2));
  const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (oh > 23 || om > 59) return Number.NaN;
  return d.getTime() - (zone[0] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
}

/**
 * The invoice the contract makes of a line, null when the line is no valid invoice, undefined
 * for the one case this oracle leaves to the project's reference: an invoice number beyond
 * 2^53, whose digits only the source text has.
 */
function oracle(bytes: Uint8Array): DecodedInvoice | null | undefined {
  let doc: unknown;
  try {
    // A BOM is no whitespace to JSON: keep it for JSON.parse to refuse.
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes));
  } catch {
    return null;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return null;
  const o = doc as Record<string, unknown>;
  const { invoice_no, country, timestamp, type, items } = o;
  if (typeof invoice_no !== 'number') return null;
  if (!Number.isSafeInteger(invoice_no)) return undefined;
  if (invoice_no < 0) return null;
  if (typeof country !== 'string' || country.trim() === '') return null;
  if (typeof timestamp !== 'string') return null;
  const time = oracleTime(timestamp);
  if (Number.isNaN(time)) return null;
  if (type !== 'ORDER' && type !== 'RETURN') return null;
  if (!Array.isArray(items)) return null;
  let micros = 0;
  let count = 0;
  for (const item of items as unknown[]) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return null;
    const { quantity, unit_price } = item as Record<string, unknown>;
    if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity <= 0) return null;
    if (typeof unit_price !== 'number' || !Number.isFinite(unit_price) || unit_price < 0) return null;
    micros += Math.round(unit_price * 1_000_000) * quantity;
    count += quantity;
  }
  if (!Number.isSafeInteger(micros) || !Number.isSafeInteger(count)) return null;
  const isReturn = type === 'RETURN';
  return { valid: true, invoiceNo: String(invoice_no), country, timestamp: time, isReturn, totalMicros: isReturn ? -micros : micros, totalItems: count };
}

/**
 * The scanner, the decoder and the reference agree on `bytes`, and with the oracle where it
 * has an answer. Returns whether the scanner answered by itself.
 */
function expectAgree(bytes: Uint8Array): boolean {
  const reference = decodeInvoiceReference(bytes);
  expect(decodeInvoice(bytes)).toStrictEqual(reference);
  const scanned = scanInvoice(bytes);
  if (scanned !== null) expect(scanned).toStrictEqual(reference);
  const expected = oracle(bytes);
  if (expected === null) expect(reference.valid).toBe(false);
  else if (expected !== undefined) expect(reference).toStrictEqual(expected);
  return scanned !== null;
}

const START = Date.UTC(2020, 8, 18, 10);

function lines(shape: LineShape, n: number, badRatio: number): Buffer[] {
  const gen = new InvoiceGenerator({ seed: 11, shape, badRatio, outOfOrderRatio: 0.05, lateRatio: 0.01, returnRatio: 0.2 });
  return Array.from({ length: n }, (_, i) => utf8(gen.next(START + i * 28).text));
}

describe('invoice scanner against an oracle of the contract', () => {
  for (const shape of ['compact', 'feed'] as const) {
    it(`decodes every ${shape} line of the simulator, bad ones included, as the contract says`, () => {
      let valid = 0;
      let scanned = 0;
      for (const line of lines(shape, 4000, 0.05)) {
        const fast = expectAgree(line);
        if (oracle(line)?.valid === true) {
          valid++;
          // The usual lines are the fast path's own: none may fall back.
          expect(fast).toBe(true);
          scanned++;
        }
      }
      expect(valid).toBeGreaterThan(3600);
      expect(scanned).toBe(valid);
    });

    it(`agrees on mutated ${shape} lines (property)`, () => {
      const pool = lines(shape, 300, 0);
      const favoured = [0x22, 0x5c, 0x2c, 0x3a, 0x7b, 0x7d, 0x5b, 0x5d, 0x20, 0x09, 0x30, 0x35, 0x2e, 0x65, 0x2d, 0x80, 0xc3];
      fc.assert(
        fc.property(fc.nat({ max: pool.length - 1 }), fc.array(mutationArb(favoured), { minLength: 1, maxLength: 3 }), (k, ms) => {
          expectAgree(mutate(pool[k]!, ms));
        }),
        { numRuns: 4000 },
      );
    });
  }
});

describe('invoice scanner fast paths', () => {
  const item = (price: string, quantity: string) => `{"SKU": "21485", "title": "RETROSPOT HEART", "unit_price": ${price}, "quantity": ${quantity}}`;
  const line = (items: string, o: { ts?: string; country?: string; type?: string } = {}) =>
    `{"invoice_no": 536365, "country": ${o.country ?? '"United Kingdom"'}, "timestamp": ${o.ts ?? '"2020-09-18 10:55:23"'}, "type": ${o.type ?? '"ORDER"'}, "items": [${items}]}`;

  it('prices of every usual form are read to the micros of their double', () => {
    const prices = ['0', '0.0', '0.00', '5', '5.0', '4.95', '4.05', '0.01', '0.1', '0.000001', '0.0000005', '0.0000015', '1.000001', '2.675', '1.005', '0.29', '0.57', '1.15',
      '999999.99', '1125899906.842624', '1125899906.842625', '1125899906', '1125899907', '123456789.123456', '12345678901.2345', '999999999999999', '0.123456789012345', '123456789012.34'];
    for (const p of prices) expectAgree(utf8(line(item(p, '3'))));
    // The usual ones are read by the scanner itself.
    for (const p of ['0', '0.0', '5', '4.95', '0.000001', '1.005', '1125899906.84262']) expect(scanInvoice(utf8(line(item(p, '7')))), p).not.toBeNull();
    // Random mantissas and decimal counts, near the 2^50-micros bound too.
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 99_999_999 }), fc.integer({ min: 1_125_899_000_000, max: 1_125_900_000_000 }), fc.maxSafeNat()), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 1, max: 99 }), (m, d, q) => {
        const digits = String(m).padStart(d + 1, '0');
        const text = d === 0 ? digits : `${digits.slice(0, -d)}.${digits.slice(-d)}`;
        expectAgree(utf8(line(item(text, String(q)))));
      }),
      { numRuns: 3000 },
    );
  });

  it('prices and quantities in forms left to the general reader', () => {
    for (const p of ['01', '00.5', '.5', '5.', '-1', '-0', '1e2', '1E-2', '4.95e0', '0.5e1', '+1', '1.2.3', '0x1', '"4.95"', 'null', '1e400']) expectAgree(utf8(line(item(p, '2'))));
    for (const q of ['1', '9', '10', '12', '100', '999999999999999', '1000000000000000', '1.0', '2.00', '10e-1', '1e1', '0', '00', '01', '-1', '1.5', '"1"', '9007199254740993'])
      expectAgree(utf8(line(item('4.95', q))));
    expect(scanInvoice(utf8(line(item('4.95', '1.0'))))).toMatchObject({ totalItems: 1, totalMicros: 4_950_000 });
  });

  it('separators: none, one space, and every other layout of whitespace', () => {
    const compact = '{"invoice_no":536365,"country":"France","timestamp":"2020-09-18 10:55:23","type":"RETURN","items":[{"SKU":"1","unit_price":4.95,"quantity":6},{"title":"x","quantity":2,"unit_price":0.5}]}';
    const seps = [...compact.matchAll(/[:,]/g)].map((m) => m.index);
    for (const ws of ['', ' ', '  ', '\t', '\n', '\r\n', ' \t', '\u000b', '\u00a0'])
      for (const at of seps) {
        const after = compact.slice(0, at + 1) + ws + compact.slice(at + 1);
        const before = compact.slice(0, at) + ws + compact.slice(at);
        expectAgree(utf8(after));
        expectAgree(utf8(before));
      }
    expect(scanInvoice(utf8(compact))).toMatchObject({ isReturn: true, totalMicros: -(6 * 4_950_000 + 2 * 500_000), totalItems: 8 });
    // Lines cut at or just after each separator: the fast forms look two bytes ahead.
    for (const at of seps) for (let k = 0; k <= 3; k++) expectAgree(utf8(compact.slice(0, at + k)));
    for (let k = 1; k <= 4; k++) expectAgree(utf8(compact.slice(0, -k)));
  });

  it('known keys differ from their neighbours in any byte', () => {
    const compact = '{"invoice_no":536365,"country":"France","timestamp":"2020-09-18 10:55:23","type":"ORDER","items":[{"SKU":"1","title":"T","unit_price":4.95,"quantity":6}]}';
    for (const key of ['invoice_no', 'country', 'timestamp', 'type', 'items', 'unit_price', 'quantity']) {
      const at = compact.indexOf(`"${key}"`) + 1;
      for (let k = 0; k <= key.length; k++) {
        for (const c of ['x', '_', '"', 'Q', '\u00e9'])
          expectAgree(utf8(compact.slice(0, at + k) + c + compact.slice(at + k + 1)));
        // Shorter and longer keys.
        expectAgree(utf8(compact.slice(0, at + k) + compact.slice(at + k + 1)));
        expectAgree(utf8(compact.slice(0, at + k) + 'y' + compact.slice(at + k)));
      }
    }
  });

  it('never reads a key past the end of a view, whatever the bytes behind it', () => {
    const whole = utf8('{"invoice_no":1,"country":"F","timestamp":"2020-09-18 10:55:23","type":"ORDER","items":[{"unit_price":1,"quantity":1}]}');
    for (const key of ['"invoice_no"', '"quantity"', '"unit_price"', '"type"', '"items"', '"ORDER"'])
      for (let k = 1; k < key.length; k++) {
        const cut = whole.indexOf(key) + k;
        const view = whole.subarray(0, cut);
        expect(scanInvoice(view)).toBeNull();
        expectAgree(view);
      }
  });

  it('feed lines: offsets, non-ASCII countries, returns', () => {
    const items = [item('4.95', '6'), item('0.85', '12'), item('12.5', '1')].join(', ');
    for (const ts of ['"2020-09-18T11:55:23+01:00"', '"2020-09-18 10:55:23"', '"2020-09-18T10:55:23Z"', '"2020-09-18T09:55:23-01:00"', '"2020-09-18T11:55:23+0100"', '"2020-09-18T11:55:23+01"'])
      for (const country of ['"España"', '"Österreich"', '"Côte d\'Ivoire"', '"Curaçao"', '"Česko"', '"United Kingdom"'])
        for (const type of ['"ORDER"', '"RETURN"']) {
          const bytes = utf8(line(items, { ts, country, type }));
          expect(expectAgree(bytes)).toBe(true);
          expect(scanInvoice(bytes)?.timestamp).toBe(Date.UTC(2020, 8, 18, 10, 55, 23));
        }
  });
});
