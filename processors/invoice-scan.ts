/**
 * A single-pass byte scanner for the common shape of an invoice line. JSON.parse builds every
 * object and string of the line (item titles, SKUs) only for the validator to read a handful of
 * fields; this reads the UTF-8 bytes once, checks the whole line against the JSON grammar, and
 * keeps only what the KPIs need.
 *
 * It answers only when it is certain: it returns a valid invoice exactly equal to what
 * `JSON.parse` followed by `validateInvoice` gives, or `null` for "ask the reference decoder".
 * Everything it does not handle (escapes in a field it reads, exponents, a minus sign, duplicate
 * keys, deep nesting, any invalid invoice) is a `null`, so reasons and details of invalid
 * records always come from the reference path.
 */

import { isUtf8 } from 'node:buffer';
import type { Invoice } from './invoice.ts';
import { MICROS, parseTimestamp } from './invoice-values.ts';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const SPACE = 0x20;

// Byte classes inside a string, for the rest of a string once it has shown an escape or a
// non-ASCII byte.
const PLAIN = 0;
const END = 1;
const ESCAPE = 2;
const CONTROL = 3;
const HIGH = 4;
const STRING_CLASS = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) STRING_CLASS[c] = CONTROL;
for (let c = 0x80; c < 0x100; c++) STRING_CLASS[c] = HIGH;
STRING_CLASS[QUOTE] = END;
STRING_CLASS[BACKSLASH] = ESCAPE;

const isHex = (c: number): boolean => (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
const isDigit = (c: number): boolean => c >= ZERO && c <= NINE;

/** Nesting beyond this in an unknown field is left to JSON.parse rather than to recursion here. */
const MAX_DEPTH = 32;
const FAIL = -1;
/** Decimal mantissas of at most this many digits are exact doubles (< 2^53). */
const EXACT_DIGITS = 15;
const POW10 = Array.from({ length: EXACT_DIGITS + 1 }, (_, k) => 10 ** k);

// Side results of the last scanned string or number. Module state rather than a returned
// object: the scanner allocates nothing per byte or per token. `var`, not `let`: V8 checks a
// module-level `let` for its temporal dead zone at every read and write from a function,
// which cost about 3% of a scan; a `var` has no such zone.
var strEscaped = false;
var strHigh = false;
/** Where the last number read by `readSimpleNumber` ends. */
var numEnd = 0;
/** Set when some string of the line had a byte >= 0x80: then the line's UTF-8 must be checked. */
var lineHigh = false;
/** Where the key read by `topKey` or `itemKey` ends (after its quote), or FAIL. */
var keyEnd = 0;

function skipWs(b: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const c = b[i]!;
    // Every whitespace byte is <= 0x20: one compare for the usual non-blank byte.
    if (c > 0x20 || (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09)) break;
    i++;
  }
  return i;
}

// The separators below come in a fast form for what the simulator and the feed write (no
// whitespace, or one space after `:` and `,`) and a general one for everything else. The fast
// forms are small on purpose: V8 inlines callees into an optimised function only up to a
// budget of bytecode, and with the whitespace loops inlined into every one of them the
// scanner ran out of budget before its hottest calls were inlined.

/** Past a member's key (at `i`): the colon and the whitespace around it. Where the value starts, or FAIL. */
function valueStart(b: Uint8Array, i: number, end: number): number {
  if (i + 2 < end && b[i] === COLON) {
    const c = b[i + 1]!;
    if (c > 0x20) return i + 1;
    if (c === SPACE && b[i + 2]! > 0x20) return i + 2;
  }
  return valueStartAnyWs(b, i, end);
}

function valueStartAnyWs(b: Uint8Array, i: number, end: number): number {
  i = skipWs(b, i, end);
  if (i >= end || b[i] !== COLON) return FAIL;
  return skipWs(b, i + 1, end);
}

/** Whether the last `afterValue` met the closing bracket. */
var closed = false;

/**
 * Past a member or element of an object or array (at `i`): either its closing `close`, then
 * `closed` is set and the index after it is returned, or a comma and the whitespace behind it.
 * FAIL for anything else.
 */
function afterValue(b: Uint8Array, i: number, end: number, close: number): number {
  if (i + 2 < end) {
    const c = b[i]!;
    if (c === close) {
      closed = true;
      return i + 1;
    }
    if (c === COMMA) {
      const d = b[i + 1]!;
      closed = false;
      if (d > 0x20) return i + 1;
      if (d === SPACE && b[i + 2]! > 0x20) return i + 2;
    }
  }
  return afterValueAnyWs(b, i, end, close);
}

function afterValueAnyWs(b: Uint8Array, i: number, end: number, close: number): number {
  closed = false;
  i = skipWs(b, i, end);
  if (i >= end) return FAIL;
  if (b[i] === close) {
    closed = true;
    return i + 1;
  }
  if (b[i] !== COMMA) return FAIL;
  return skipWs(b, i + 1, end);
}

/**
 * `i` is just after the opening quote; returns the index just after the closing one. Sets
 * `strEscaped` and `strHigh`. Most strings are plain ASCII: that loop stays small.
 */
function scanString(b: Uint8Array, i: number, end: number): number {
  // One table load per byte tells plain bytes from the four others.
  while (i < end && STRING_CLASS[b[i]!] === PLAIN) i++;
  if (i < end && b[i] === QUOTE) {
    strEscaped = false;
    strHigh = false;
    return i + 1;
  }
  return i < end ? scanStringRest(b, i, end) : FAIL;
}

function scanStringRest(b: Uint8Array, i: number, end: number): number {
  let escaped = false;
  let high = false;
  for (;;) {
    if (i >= end) return FAIL;
    const k = STRING_CLASS[b[i]!]!;
    i++;
    if (k === PLAIN) continue;
    if (k === END) break;
    if (k === HIGH) {
      high = true;
      continue;
    }
    if (k === CONTROL) return FAIL;
    // An escape: the grammar of JSON.parse, nothing more (lone surrogates are fine there).
    escaped = true;
    if (i >= end) return FAIL;
    const e = b[i++]!;
    if (e === 0x75) {
      if (i + 4 > end || !isHex(b[i]!) || !isHex(b[i + 1]!) || !isHex(b[i + 2]!) || !isHex(b[i + 3]!)) return FAIL;
      i += 4;
    } else if (e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) return FAIL;
  }
  strEscaped = escaped;
  strHigh = high;
  if (high) lineHigh = true;
  return i;
}

/** Checks a JSON number's grammar; returns the index just after it. */
function skipNumber(b: Uint8Array, i: number, end: number): number {
  if (i < end && b[i] === MINUS) i++;
  if (i >= end) return FAIL;
  const c = b[i]!;
  if (c === ZERO) i++;
  else if (c > ZERO && c <= NINE) {
    i++;
    while (i < end && isDigit(b[i]!)) i++;
  } else return FAIL;
  if (i < end && b[i] === DOT) {
    i++;
    if (i >= end || !isDigit(b[i]!)) return FAIL;
    while (i < end && isDigit(b[i]!)) i++;
  }
  if (i < end && (b[i]! | 0x20) === 0x65) {
    i++;
    if (i < end && (b[i] === PLUS || b[i] === MINUS)) i++;
    if (i >= end || !isDigit(b[i]!)) return FAIL;
    while (i < end && isDigit(b[i]!)) i++;
  }
  return i;
}

function skipLiteral(b: Uint8Array, i: number, end: number, word: string): number {
  if (i + word.length > end) return FAIL;
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word.charCodeAt(k)) return FAIL;
  return i + word.length;
}

/** Checks any JSON value's grammar without building it; returns the index just after it. */
function skipValue(b: Uint8Array, i: number, end: number, depth: number): number {
  if (i >= end) return FAIL;
  const c = b[i]!;
  if (c === QUOTE) return scanString(b, i + 1, end);
  if (c === LBRACE) {
    if (depth >= MAX_DEPTH) return FAIL;
    i = skipWs(b, i + 1, end);
    if (i < end && b[i] === RBRACE) return i + 1;
    for (;;) {
      if (i >= end || b[i] !== QUOTE) return FAIL;
      i = scanString(b, i + 1, end);
      if (i === FAIL) return FAIL;
      i = valueStart(b, i, end);
      if (i === FAIL) return FAIL;
      i = skipValue(b, i, end, depth + 1);
      if (i === FAIL) return FAIL;
      i = afterValue(b, i, end, RBRACE);
      if (i === FAIL || closed) return i;
    }
  }
  if (c === LBRACKET) {
    if (depth >= MAX_DEPTH) return FAIL;
    i = skipWs(b, i + 1, end);
    if (i < end && b[i] === RBRACKET) return i + 1;
    for (;;) {
      i = skipValue(b, i, end, depth + 1);
      if (i === FAIL) return FAIL;
      i = afterValue(b, i, end, RBRACKET);
      if (i === FAIL || closed) return i;
    }
  }
  if (c === 0x74) return skipLiteral(b, i, end, 'true');
  if (c === 0x66) return skipLiteral(b, i, end, 'false');
  if (c === 0x6e) return skipLiteral(b, i, end, 'null');
  return skipNumber(b, i, end);
}

/** What the last `scanDecimal` read: the digits as an integer, how many follow the dot, how many in all. */
var decMantissa = 0;
var decDecimals = 0;
var decDigits = 0;

/**
 * Digits without a leading zero ("0" alone may lead), then optionally a dot and at least one
 * digit, and no exponent after: where it ends, with `decMantissa`, `decDecimals` and
 * `decDigits` set; FAIL for anything else. The one reader of a plain decimal under both number
 * readers below, which differ only in the limits they check and what they make of it.
 */
function scanDecimal(b: Uint8Array, i: number, end: number): number {
  if (i >= end) return FAIL;
  let mantissa = 0;
  let digits = 0;
  let c = b[i]!;
  if (c === ZERO) {
    i++;
    // "01" is not JSON: the reference will say so.
    if (i < end && isDigit(b[i]!)) return FAIL;
  } else if (c > ZERO && c <= NINE) {
    while (i < end && (c = b[i]!) >= ZERO && c <= NINE) {
      mantissa = mantissa * 10 + (c - ZERO);
      digits++;
      i++;
    }
  } else return FAIL;
  let decimals = 0;
  if (i < end && b[i] === DOT) {
    i++;
    while (i < end && (c = b[i]!) >= ZERO && c <= NINE) {
      mantissa = mantissa * 10 + (c - ZERO);
      decimals++;
      i++;
    }
    if (decimals === 0) return FAIL;
  }
  if (i < end && (b[i]! | 0x20) === 0x65) return FAIL;
  decMantissa = mantissa;
  decDecimals = decimals;
  decDigits = digits + decimals;
  return i;
}

/**
 * A non-negative number without exponent whose digits make an exact double: the value is
 * `mantissa / 10^decimals`, one correctly rounded division of two exact doubles, so the very
 * double JSON.parse gives. Returns it and sets `numEnd`; FAIL for anything else (left to the
 * reference). The value is returned rather than kept in module state, which would box it.
 */
function readSimpleNumber(b: Uint8Array, i: number, end: number): number {
  const e = scanDecimal(b, i, end);
  if (e === FAIL || decDigits > EXACT_DIGITS) return FAIL;
  numEnd = e;
  return decDecimals === 0 ? decMantissa : decMantissa / POW10[decDecimals]!;
}

/**
 * A quantity in its usual form, 1 to 15 digits without a leading zero and nothing after them
 * that would continue the number: that integer, read without the division and the boxed
 * double of `readSimpleNumber`, which decides every other form (`1.0`, `2e1`, `0`, `01` ...).
 * Sets `numEnd`.
 */
function readCount(b: Uint8Array, i: number, end: number): number {
  const from = i;
  let n = i < end ? b[i]! - ZERO : -1;
  if (n < 1 || n > 9) return readSimpleNumber(b, from, end);
  i++;
  let d = 0;
  while (i < end && (d = b[i]! - ZERO) >= 0 && d <= 9) {
    n = n * 10 + d;
    i++;
  }
  if (i - from > EXACT_DIGITS || (i < end && (b[i] === DOT || (b[i]! | 0x20) === 0x65))) return readSimpleNumber(b, from, end);
  numEnd = i;
  return n;
}

/** Prices read straight to micros are at most this: see `readPriceMicros`. */
const MAX_DIRECT_MICROS = 2 ** 50;
const DECIMALS_OF_MICROS = 6;

/**
 * `Math.round(price * MICROS)` of a unit price in its usual form (digits, then up to 6
 * decimals, at most 15 digits in all, no exponent), computed as the integer `mantissa *
 * 10^(6 - decimals)` without the double in between. The two agree: the price double is
 * `mantissa / 10^decimals` correctly rounded and the product by MICROS is rounded once more,
 * so it is within a relative 2^-52 of that integer, less than 0.5 away for any integer up to
 * 2^50, and Math.round gives the integer. Any other form, or a larger value, returns FAIL
 * here and is read by `readSimpleNumber` as before. Sets `numEnd`.
 */
function readPriceMicros(b: Uint8Array, i: number, end: number): number {
  const e = scanDecimal(b, i, end);
  if (e === FAIL || decDecimals > DECIMALS_OF_MICROS || decDigits > EXACT_DIGITS) return FAIL;
  const micros = decMantissa * POW10[DECIMALS_OF_MICROS - decDecimals]!;
  if (micros > MAX_DIRECT_MICROS) return FAIL;
  numEnd = e;
  return micros;
}

const MAX_LONG_DIGITS = ((1n << 63n) - 1n).toString();

/** Whether 19 digits at `from` are at most 2^63-1 (same length: compare as text). */
function longFits(b: Uint8Array, from: number): boolean {
  for (let k = 0; k < MAX_LONG_DIGITS.length; k++) {
    const d = b[from + k]!;
    const m = MAX_LONG_DIGITS.charCodeAt(k);
    if (d !== m) return d < m;
  }
  return true;
}

const bytesOf = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));

// Known keys with their closing quote: one comparison pass tells the key and where it ends.
const K_INVOICE_NO = keyWords(bytesOf('invoice_no"'));
const K_ITEMS = keyWords(bytesOf('items"'));
const K_COUNTRY = keyWords(bytesOf('country"'));
const K_TIMESTAMP = keyWords(bytesOf('timestamp"'));
const K_TYPE = keyWords(bytesOf('type"'));
const K_QUANTITY = keyWords(bytesOf('quantity"'));
const K_UNIT_PRICE = keyWords(bytesOf('unit_price"'));
const V_ORDER = keyWords(bytesOf('ORDER"'));
const V_RETURN = keyWords(bytesOf('RETURN"'));

/** The 4 bytes at `i` as one little-endian int32: known keys are compared a word at a time. */
function word(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
}

/**
 * A known key (or value) of 5 to 12 bytes as words: its first, second and last 4 bytes (the
 * last overlapping the others when it is shorter than 12), so that any such key takes three
 * integer compares instead of a loop over its bytes.
 */
interface KeyWords {
  readonly n: number;
  readonly w0: number;
  readonly w1: number;
  readonly wLast: number;
}
function keyWords(key: Uint8Array): KeyWords {
  const n = key.length;
  if (n < 5 || n > 12) throw new Error(`key of ${n} bytes`);
  return { n, w0: word(key, 0), w1: word(key, Math.min(4, n - 4)), wLast: word(key, n - 4) };
}

/** Whether the bytes at `i` are `key` (which ends with its closing quote). */
function bytesAt(b: Uint8Array, i: number, end: number, key: KeyWords): boolean {
  const n = key.n;
  return i + n <= end && word(b, i) === key.w0 && word(b, i + (n < 8 ? n - 4 : 4)) === key.w1 && word(b, i + n - 4) === key.wLast;
}

function bytesEqual(b: Uint8Array, from: number, to: number, other: Uint8Array, otherLength: number): boolean {
  if (to - from !== otherLength) return false;
  for (let k = 0; k < otherLength; k++) if (b[from + k] !== other[k]) return false;
  return true;
}

function latin1(b: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let k = from; k < to; k++) s += String.fromCharCode(b[k]!);
  return s;
}

/** The digits of an invoice number as text; fixed arities for the usual lengths, which V8 makes cheap. */
function digitsText(b: Uint8Array, f: number, n: number): string {
  if (n === 15)
    return String.fromCharCode(b[f]!, b[f + 1]!, b[f + 2]!, b[f + 3]!, b[f + 4]!, b[f + 5]!, b[f + 6]!, b[f + 7]!, b[f + 8]!, b[f + 9]!, b[f + 10]!, b[f + 11]!, b[f + 12]!, b[f + 13]!, b[f + 14]!);
  if (n === 16)
    return String.fromCharCode(b[f]!, b[f + 1]!, b[f + 2]!, b[f + 3]!, b[f + 4]!, b[f + 5]!, b[f + 6]!, b[f + 7]!, b[f + 8]!, b[f + 9]!, b[f + 10]!, b[f + 11]!, b[f + 12]!, b[f + 13]!, b[f + 14]!, b[f + 15]!);
  return latin1(b, f, f + n);
}

// Countries repeat: a small table from their bytes to their (already checked) string spares a
// string per record. The slot comes from a few bytes only; the full comparison decides.
const COUNTRY_SLOTS = 256;
const countryKeys: (Uint8Array | null)[] = new Array<Uint8Array | null>(COUNTRY_SLOTS).fill(null);
const countryTexts: string[] = new Array<string>(COUNTRY_SLOTS).fill('');

/** The country string of bytes [from, to), or null when the reference must judge it. */
function countryOf(b: Uint8Array, from: number, to: number, high: boolean): string | null {
  const n = to - from;
  if (n === 0) return null;
  const slot = (n * 7 + b[from]! * 3 + b[from + (n >> 1)]! * 5 + b[to - 1]!) & (COUNTRY_SLOTS - 1);
  const key = countryKeys[slot]!;
  if (key !== null && bytesEqual(b, from, to, key, key.length)) return countryTexts[slot]!;
  let text: string;
  if (high) {
    const bytes = Buffer.from(b.buffer, b.byteOffset + from, n);
    if (!isUtf8(bytes)) return null;
    text = bytes.toString('utf8');
  } else text = latin1(b, from, to);
  if (text.trim().length === 0) return null;
  // A copy: a view would pin the whole input chunk, and the caller may reuse its memory.
  countryKeys[slot] = new Uint8Array(b.subarray(from, to));
  countryTexts[slot] = text;
  return text;
}

// Timestamps are read straight from their bytes to epoch ms: no string, no regex, no Date, and
// no cache to miss. A cache of the last timestamps' bytes only paid off while consecutive lines
// shared their text; the feed's lines (seconds out of order, some at +01:00) mostly do not, and
// comparing the bytes costs about as much as reading them.
const DASH = MINUS;
const T = 0x54;
const Z = 0x5a;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const DAY_MS = 86_400_000;

/** Two ASCII digits at `i` as a number, or -1000 when either is not a digit (any sum then stays negative). */
function twoDigits(b: Uint8Array, i: number): number {
  const h = b[i]! - ZERO;
  const l = b[i + 1]! - ZERO;
  return h >= 0 && h <= 9 && l >= 0 && l <= 9 ? h * 10 + l : -1000;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil), as Date counts them. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/**
 * Epoch ms of the timestamp bytes [from, to) in the forms the feed uses: `YYYY-MM-DD HH:MM:SS`
 * or with `T`, an optional fraction, then nothing, `Z`, `±HH`, `±HHMM` or `±HH:MM`. It gives
 * exactly what `parseTimestamp` gives for them; anything else (and every invalid value, so
 * that one function decides those) goes to `parseTimestamp`.
 */
function timestampOf(b: Uint8Array, from: number, to: number): number {
  const n = to - from;
  if (n < 19) return parseTimestamp(latin1(b, from, to));
  const f = from;
  const sep = b[f + 10];
  const yh = twoDigits(b, f);
  const yl = twoDigits(b, f + 2);
  const month = twoDigits(b, f + 5);
  const day = twoDigits(b, f + 8);
  const hour = twoDigits(b, f + 11);
  const minute = twoDigits(b, f + 14);
  const second = twoDigits(b, f + 17);
  if (
    b[f + 4] !== DASH || b[f + 7] !== DASH || (sep !== SPACE && sep !== T) || b[f + 13] !== COLON || b[f + 16] !== COLON ||
    yh < 0 || yl < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59
  )
    return parseTimestamp(latin1(b, from, to));
  const year = yh * 100 + yl;
  const leap = (year & 3) === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return parseTimestamp(latin1(b, from, to));
  let i = f + 19;
  let ms = 0;
  if (i < to && b[i] === DOT) {
    // 1-9 fraction digits; milliseconds are the first three, as the reference truncates them.
    const digitsFrom = ++i;
    while (i < to && isDigit(b[i]!)) i++;
    const digits = i - digitsFrom;
    if (digits === 0 || digits > 9) return parseTimestamp(latin1(b, from, to));
    ms = (b[digitsFrom]! - ZERO) * 100 + (digits > 1 ? (b[digitsFrom + 1]! - ZERO) * 10 : 0) + (digits > 2 ? b[digitsFrom + 2]! - ZERO : 0);
  }
  let offsetMin = 0;
  if (i < to) {
    const z = b[i]!;
    if (z === Z) i++;
    else if (z === PLUS || z === MINUS) {
      const oh = i + 3 <= to ? twoDigits(b, i + 1) : -1;
      let om = 0;
      let j = i + 3;
      if (j < to && b[j] === COLON) j++;
      if (j < to) {
        om = j + 2 <= to ? twoDigits(b, j) : -1;
        j += 2;
      } else if (j !== i + 3) om = -1; // a colon with no minutes
      if (oh < 0 || oh > 23 || om < 0 || om > 59) return parseTimestamp(latin1(b, from, to));
      offsetMin = (z === MINUS ? -1 : 1) * (oh * 60 + om);
      i = j;
    } else return parseTimestamp(latin1(b, from, to));
  }
  if (i !== to) return parseTimestamp(latin1(b, from, to));
  return daysFromCivil(year, month, day) * DAY_MS + ((hour * 60 + minute - offsetMin) * 60 + second) * 1000 + ms;
}

// Bits of the fields seen, to tell duplicates (JSON.parse keeps the last; we leave them to it).
const F_INVOICE_NO = 1;
const F_COUNTRY = 2;
const F_TIMESTAMP = 4;
const F_TYPE = 8;
const F_ITEMS = 16;
const F_ALL = 31;
const F_QUANTITY = 1;
const F_UNIT_PRICE = 2;
const F_OTHER = 0;

/** Which known top-level key starts at `i` (after its quote), with `keyEnd` just after it. */
function topKey(b: Uint8Array, i: number, end: number): number {
  const c = i < end ? b[i]! : 0;
  if (c === 0x69) {
    if (bytesAt(b, i, end, K_INVOICE_NO)) return (keyEnd = i + K_INVOICE_NO.n), F_INVOICE_NO;
    if (bytesAt(b, i, end, K_ITEMS)) return (keyEnd = i + K_ITEMS.n), F_ITEMS;
  } else if (c === 0x63) {
    if (bytesAt(b, i, end, K_COUNTRY)) return (keyEnd = i + K_COUNTRY.n), F_COUNTRY;
  } else if (c === 0x74) {
    if (bytesAt(b, i, end, K_TIMESTAMP)) return (keyEnd = i + K_TIMESTAMP.n), F_TIMESTAMP;
    if (bytesAt(b, i, end, K_TYPE)) return (keyEnd = i + K_TYPE.n), F_TYPE;
  }
  // Any other key, unless escaped: an escape could spell a known key.
  const j = scanString(b, i, end);
  keyEnd = j === FAIL || strEscaped ? FAIL : j;
  return F_OTHER;
}

function itemKey(b: Uint8Array, i: number, end: number): number {
  const c = i < end ? b[i]! : 0;
  if (c === 0x71) {
    if (bytesAt(b, i, end, K_QUANTITY)) return (keyEnd = i + K_QUANTITY.n), F_QUANTITY;
  } else if (c === 0x75) {
    if (bytesAt(b, i, end, K_UNIT_PRICE)) return (keyEnd = i + K_UNIT_PRICE.n), F_UNIT_PRICE;
  }
  const j = scanString(b, i, end);
  keyEnd = j === FAIL || strEscaped ? FAIL : j;
  return F_OTHER;
}

/** Sums of the items last read by `scanItems`. */
var itemsMicros = 0;
var itemsCount = 0;

/**
 * The items array from just after its `[`: where it ends (after its `]`), or FAIL. Sets
 * `itemsMicros` and `itemsCount`. A function of its own, apart from `scanInvoice`: V8 inlines
 * callees into an optimised function up to a budget of bytecode, which the whole scanner
 * exhausted before the hot per-item calls (keys, colons, commas, numbers) were inlined; here
 * they have a budget of their own.
 */
function scanItems(b: Uint8Array, i: number, end: number): number {
  let micros = 0;
  let count = 0;
  i = skipWs(b, i, end);
  if (i < end && b[i] === RBRACKET) i++;
  else {
    for (;;) {
      // One item: an object with exactly one quantity and one unit_price, anything else skipped.
      if (i >= end || b[i] !== LBRACE) return FAIL;
      let itemSeen = 0;
      let quantity = 0;
      /** Math.round(unit_price * MICROS): the reference's rounding of the price's double. */
      let priceMicros = 0;
      i = skipWs(b, i + 1, end);
      if (i < end && b[i] === RBRACE) return FAIL;
      for (;;) {
        if (i >= end || b[i] !== QUOTE) return FAIL;
        const k = itemKey(b, i + 1, end);
        if (keyEnd === FAIL) return FAIL;
        i = valueStart(b, keyEnd, end);
        if (i === FAIL) return FAIL;
        if (k === F_QUANTITY) {
          if (itemSeen & F_QUANTITY) return FAIL;
          itemSeen |= F_QUANTITY;
          quantity = readCount(b, i, end);
          if (quantity <= 0 || !Number.isInteger(quantity)) return FAIL;
          i = numEnd;
        } else if (k === F_UNIT_PRICE) {
          if (itemSeen & F_UNIT_PRICE) return FAIL;
          itemSeen |= F_UNIT_PRICE;
          priceMicros = readPriceMicros(b, i, end);
          if (priceMicros === FAIL) {
            const unitPrice = readSimpleNumber(b, i, end);
            if (unitPrice === FAIL) return FAIL;
            priceMicros = Math.round(unitPrice * MICROS);
          }
          i = numEnd;
        } else {
          // Mostly a string (SKU, title): straight to the string loop.
          i = i < end && b[i] === QUOTE ? scanString(b, i + 1, end) : skipValue(b, i, end, 2);
          if (i === FAIL) return FAIL;
        }
        i = afterValue(b, i, end, RBRACE);
        if (i === FAIL) return FAIL;
        if (closed) break;
      }
      if (itemSeen !== (F_QUANTITY | F_UNIT_PRICE)) return FAIL;
      // The reference's arithmetic, in the same order, on the same doubles.
      micros += priceMicros * quantity;
      count += quantity;
      i = afterValue(b, i, end, RBRACKET);
      if (i === FAIL) return FAIL;
      if (closed) break;
    }
  }
  itemsMicros = micros;
  itemsCount = count;
  return i;
}

/**
 * The invoice of a line of UTF-8 bytes, when the line is a valid invoice in the common shape;
 * null when the reference decoder must decide.
 */
export function scanInvoice(b: Uint8Array): Invoice | null {
  const end = b.length;
  lineHigh = false;
  let seen = 0;
  let invoiceNoFrom = 0;
  let invoiceNoTo = 0;
  let country = '';
  let timestamp = 0;
  let isReturn = false;
  let micros = 0;
  let count = 0;

  let i = skipWs(b, 0, end);
  if (i >= end || b[i] !== LBRACE) return null;
  i = skipWs(b, i + 1, end);
  if (i < end && b[i] === RBRACE) return null;
  for (;;) {
    if (i >= end || b[i] !== QUOTE) return null;
    const key = topKey(b, i + 1, end);
    if (keyEnd === FAIL) return null;
    i = valueStart(b, keyEnd, end);
    if (i === FAIL || i >= end) return null;
    const first = b[i]!;

    if (key === F_INVOICE_NO) {
      if (seen & F_INVOICE_NO) return null;
      seen |= F_INVOICE_NO;
      // Plain digits up to 2^63-1 (JSON allows no leading zero): the reference gives exactly
      // them, through String() of a safe integer or, above 2^53, from the source text.
      invoiceNoFrom = i;
      if (first === ZERO) i++;
      else while (i < end && isDigit(b[i]!)) i++;
      invoiceNoTo = i;
      const n = invoiceNoTo - invoiceNoFrom;
      if (n === 0 || n > MAX_LONG_DIGITS.length) return null;
      if (n === MAX_LONG_DIGITS.length && !longFits(b, invoiceNoFrom)) return null;
      if (i < end && (isDigit(b[i]!) || b[i] === DOT || (b[i]! | 0x20) === 0x65)) return null;
    } else if (key === F_COUNTRY) {
      if (seen & F_COUNTRY || first !== QUOTE) return null;
      seen |= F_COUNTRY;
      const from = i + 1;
      i = scanString(b, from, end);
      if (i === FAIL || strEscaped) return null;
      const c = countryOf(b, from, i - 1, strHigh);
      if (c === null) return null;
      country = c;
    } else if (key === F_TIMESTAMP) {
      if (seen & F_TIMESTAMP || first !== QUOTE) return null;
      seen |= F_TIMESTAMP;
      const from = i + 1;
      i = scanString(b, from, end);
      if (i === FAIL || strEscaped || strHigh) return null;
      timestamp = timestampOf(b, from, i - 1);
      if (Number.isNaN(timestamp)) return null;
    } else if (key === F_TYPE) {
      if (seen & F_TYPE || first !== QUOTE) return null;
      seen |= F_TYPE;
      if (bytesAt(b, i + 1, end, V_ORDER)) {
        isReturn = false;
        i += 1 + V_ORDER.n;
      } else if (bytesAt(b, i + 1, end, V_RETURN)) {
        isReturn = true;
        i += 1 + V_RETURN.n;
      } else return null;
    } else if (key === F_ITEMS) {
      if (seen & F_ITEMS || first !== LBRACKET) return null;
      seen |= F_ITEMS;
      i = scanItems(b, i + 1, end);
      if (i === FAIL) return null;
      micros = itemsMicros;
      count = itemsCount;
    } else {
      i = skipValue(b, i, end, 1);
      if (i === FAIL) return null;
    }
    i = afterValue(b, i, end, RBRACE);
    if (i === FAIL) return null;
    if (closed) break;
  }
  if (skipWs(b, i, end) !== end) return null;
  if (seen !== F_ALL) return null;
  if (!Number.isSafeInteger(micros) || !Number.isSafeInteger(count)) return null;
  if (lineHigh && !isUtf8(b)) return null;
  const invoiceNo = digitsText(b, invoiceNoFrom, invoiceNoTo - invoiceNoFrom);
  return { valid: true, invoiceNo, country, timestamp, isReturn, totalMicros: isReturn ? -micros : micros, totalItems: count };
}
