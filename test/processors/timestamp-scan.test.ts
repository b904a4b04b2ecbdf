import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeInvoice, decodeInvoiceReference } from '../../processors/invoice.ts';
import { scanInvoice } from '../../processors/invoice-scan.ts';
import { parseTimestamp } from '../../processors/invoice-values.ts';

// The scanner reads timestamps from their bytes with its own arithmetic (no cache, no Date):
// for every timestamp text, the decoded invoice must equal the reference's, and where the
// scanner answers, its epoch ms must be parseTimestamp's.

const line = (timestamp: string) =>
  `{"invoice_no": 536365, "country": "United Kingdom", "timestamp": ${JSON.stringify(timestamp)}, "type": "ORDER", "items": [{"SKU": "21485", "title": "T", "unit_price": 4.95, "quantity": 6}]}`;

function expectSame(timestamp: string): void {
  const bytes = new TextEncoder().encode(line(timestamp));
  const reference = decodeInvoiceReference(bytes);
  expect(decodeInvoice(bytes)).toStrictEqual(reference);
  const scanned = scanInvoice(bytes);
  if (scanned !== null) expect(scanned.timestamp).toBe(parseTimestamp(timestamp));
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
/** A date-time's parts, some out of range on purpose (month 13, day 31 of a 30-day month, hour 24). */
const partsArb = fc.record({
  year: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 1968, max: 2040 }), fc.constantFrom(0, 1, 100, 1600, 1900, 2000, 2100, 2400)),
  month: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 12 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 13, 99) }),
  day: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max: 28 }) }, { weight: 3, arbitrary: fc.constantFrom(0, 29, 30, 31, 32, 99) }),
  hour: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 23 }) }, { weight: 1, arbitrary: fc.constantFrom(24, 99) }),
  minute: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 59 }) }, { weight: 1, arbitrary: fc.constant(60) }),
  second: fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 0, max: 59 }) }, { weight: 1, arbitrary: fc.constantFrom(60, 99) }),
  sep: fc.constantFrom(' ', 'T', 't', '_'),
  fraction: fc.oneof({ weight: 3, arbitrary: fc.constant('') }, { weight: 2, arbitrary: fc.stringMatching(/^\.\d{0,11}$/) }),
  zone: fc.oneof(
    { weight: 3, arbitrary: fc.constant('') },
    { weight: 3, arbitrary: fc.constantFrom('Z', '+01:00', '-01:00', '+0100', '+01', '-05:30', '+14:00', '+23:59', '+24:00', '+01:60', '+01:', '+1', '+01:0', '+010', 'z', ' Z', 'ZZ', '+01:00Z', '-00:00') },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 30 }), fc.constantFrom(':', ''), fc.integer({ min: 0, max: 70 })).map(([s, h, c, m]) => `${s}${pad(h)}${c}${pad(m)}`) },
  ),
});
const timestampArb = partsArb.map(
  (p) => `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}${p.sep}${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}${p.fraction}${p.zone}`,
);
/** A timestamp with one character replaced, dropped or added: texts near the accepted forms. */
const mutatedArb = fc.tuple(timestampArb, fc.nat(), fc.constantFrom('drop', 'replace', 'insert'), fc.constantFrom('0', '9', '-', ':', ' ', 'T', '.', '+', 'Z', 'a', '/')).map(([t, at, op, c]) => {
  const i = at % (t.length + 1);
  return op === 'drop' ? t.slice(0, i) + t.slice(i + 1) : op === 'replace' ? t.slice(0, i) + c + t.slice(i + 1) : t.slice(0, i) + c + t.slice(i);
});

describe('timestamps read from bytes', () => {
  it('agree with parseTimestamp on generated date-times of every form', () => {
    fc.assert(fc.property(timestampArb, (t) => expectSame(t)), { numRuns: 20_000 });
  });

  it('agree with parseTimestamp on texts one edit away from them', () => {
    fc.assert(fc.property(mutatedArb, (t) => expectSame(t)), { numRuns: 20_000 });
  });

  it('read the feed forms to the right instant, with or without an offset', () => {
    const at = Date.UTC(2020, 8, 18, 10, 55, 23);
    for (const t of ['2020-09-18 10:55:23', '2020-09-18T10:55:23', '2020-09-18T10:55:23Z', '2020-09-18T11:55:23+01:00', '2020-09-18T11:55:23+0100', '2020-09-18T11:55:23+01', '2020-09-18T05:25:23-05:30']) {
      expect(scanInvoice(new TextEncoder().encode(line(t)))?.timestamp, t).toBe(at);
    }
    expect(scanInvoice(new TextEncoder().encode(line('2020-09-18T10:55:23.987654Z')))?.timestamp).toBe(at + 987);
    // Leap days, century rules and the year 0 of the proleptic Gregorian calendar, as Date counts them.
    for (const t of ['2000-02-29 00:00:00', '2024-02-29 23:59:59', '1600-02-29 12:00:00', '0000-01-01 00:00:00', '0000-02-29 00:00:00', '9999-12-31 23:59:59', '1969-12-31 23:59:59'])
      expect(scanInvoice(new TextEncoder().encode(line(t)))?.timestamp, t).toBe(parseTimestamp(t));
    for (const t of ['1900-02-29 00:00:00', '2023-02-29 00:00:00', '2020-04-31 00:00:00', '2020-09-18 10:55:23+24:00']) {
      expect(scanInvoice(new TextEncoder().encode(line(t))), t).toBeNull();
      expect(decodeInvoice(new TextEncoder().encode(line(t)))).toMatchObject({ valid: false, reason: 'bad-timestamp' });
    }
  });

  it('stay right when consecutive lines alternate between instants and forms (nothing cached)', () => {
    const times = ['2020-09-18 10:55:23', '2020-09-18T11:55:24+01:00', '2020-09-18 10:55:21', '2020-09-18 10:55:23', '2020-13-45 99:00:00', '2020-09-18T11:55:23+01:00'];
    for (let i = 0; i < 60; i++) expectSame(times[(i * 5) % times.length]!);
  });
});
