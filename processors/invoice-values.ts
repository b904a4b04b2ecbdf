/**
 * How the invoice contract's values are read, shared by both decoders (the JSON.parse one in
 * invoice.ts and the byte scanner in invoice-scan.ts): money and timestamps.
 */

/** Money is kept in millionths of the currency unit: exact integer sums, no float drift. */
export const MICROS = 1_000_000;

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * `YYYY-MM-DD HH:MM:SS` (UTC), or ISO-8601 with `T`, optional fraction and an optional `Z` or
 * `±HH:MM` offset. Returns epoch ms, or NaN when the text is not a real instant.
 */
export function parseTimestamp(text: string): number {
  // Invoices arrive in time order mostly, many in the same second: remember the last one.
  if (text === lastTimestampText) return lastTimestamp;
  const ts = parseTimestampUncached(text);
  lastTimestampText = text;
  lastTimestamp = ts;
  return ts;
}

let lastTimestampText = '';
let lastTimestamp = Number.NaN;

function parseTimestampUncached(text: string): number {
  const m = TIMESTAMP.exec(text);
  if (m === null) return Number.NaN;
  const year = +m[1]!;
  const month = +m[2]!;
  const day = +m[3]!;
  const hour = +m[4]!;
  const minute = +m[5]!;
  const second = +m[6]!;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return Number.NaN;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return Number.NaN;
  const ms = m[7] === undefined ? 0 : +m[7].slice(0, 3).padEnd(3, '0');
  let offsetMin = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = +digits.slice(0, 2);
    const om = digits.length > 2 ? +digits.slice(2, 4) : 0;
    if (oh > 23 || om > 59) return Number.NaN;
    offsetMin = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  // Date.UTC maps years 0-99 to 1900-1999: set the year explicitly.
  const d = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, ms));
  d.setUTCFullYear(year, month - 1, day);
  return d.getTime() - offsetMin * 60_000;
}
