import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeInvoice, decodeInvoiceReference } from '../../processors/invoice.ts';
import { scanInvoice } from '../../processors/invoice-scan.ts';
import { InvoiceGenerator } from '../../simulator/generator.ts';
import { mutate, mutationArb } from '../support/mutations.ts';

// The byte scanner is only an optimisation: for every input, decodeInvoice must give exactly
// what the reference path (UTF-8 check, JSON.parse, validateInvoice) gives, reasons and details
// included. These tests build JSON text by hand so that they can say what JSON.stringify
// never would: exponents, escapes, duplicate keys, odd whitespace, broken grammar.

const utf8 = (text: string) => new TextEncoder().encode(text);

/** Fast and reference decoders agree; returns whether the scanner answered by itself. */
function expectSame(bytes: Uint8Array): boolean {
  const reference = decodeInvoiceReference(bytes);
  expect(decodeInvoice(bytes)).toStrictEqual(reference);
  const scanned = scanInvoice(bytes);
  if (scanned !== null) expect(scanned).toStrictEqual(reference);
  return scanned !== null;
}

// ---- building blocks of JSON text ----
// Each generator takes `odd`: how often (against 10) it picks something unusual. With 0, the
// text is mostly a valid invoice, so the scanner's own answers are exercised; with more, the
// fallbacks and the error paths are.

/** `usual`, or with odds `odd` to 10 one of `unusual`. */
const mostly = <T,>(odd: number, usual: fc.Arbitrary<T>, unusual: fc.Arbitrary<T>): fc.Arbitrary<T> =>
  odd === 0 ? usual : fc.oneof({ weight: 10, arbitrary: usual }, { weight: odd, arbitrary: unusual });

const wsArb = (odd: number) =>
  mostly(
    odd,
    fc.oneof({ weight: 6, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom(' ', '\t', '\n', '\r', '  ', ' \r\n ') }),
    // Not JSON whitespace: JSON.parse rejects them between tokens.
    fc.constantFrom('\u000b', '\u000c', '\u00a0', '\u2028', '\ufeff', '\u0000'),
  );

/** A JSON string literal for `s`, up to `escapes` characters written as escapes. */
const stringLiteralArb = (s: fc.Arbitrary<string>, escapes = 3) =>
  fc.tuple(s, fc.array(fc.nat({ max: 30 }), { maxLength: escapes }), fc.constantFrom('u', 'short')).map(([text, escapeAt, style]) => {
    let out = '';
    const chars = [...text];
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i]!;
      const code = c.codePointAt(0)!;
      if (escapeAt.includes(i) || c === '"' || c === '\\' || code < 0x20) {
        const short: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\t': '\\t', '/': '\\/', '\b': '\\b', '\f': '\\f', '\r': '\\r' };
        if (style === 'short' && short[c] !== undefined) out += short[c];
        else for (let k = 0; k < c.length; k++) out += `\\u${c.charCodeAt(k).toString(16).padStart(4, '0')}`;
      } else out += c;
    }
    return `"${out}"`;
  });

const digitsArb = (min: number, max: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(''));
const priceArb = fc.integer({ min: 0, max: 99_999 }).map((c) => (c / 100).toFixed(2));

/** Number literals, valid JSON or almost: exponents, signs, zeros, long mantissas. */
const numberLiteralArb = fc.oneof(
  { weight: 4, arbitrary: priceArb },
  { weight: 3, arbitrary: fc.integer({ min: -5, max: 200 }).map(String) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom('', '', '-'), digitsArb(1, 22), fc.option(digitsArb(0, 22)), fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digitsArb(0, 3))))
      .map(([sign, int, frac, exp]) => `${sign}${int}${frac === null ? '' : `.${frac}`}${exp === null ? '' : exp.join('')}`),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '0', '-0', '0.0', '-0.0', '1.0', '1e2', '1E+2', '100e-2', '1e400', '-1e400', '1e-400', '01', '00', '1.', '.5', '+1', '1e', '0x10',
      'Infinity', 'NaN', '4.95', '4.950', '0.1', '0.30000000000000004', '2.675', '1.005', '9007199254740991', '9007199254740992',
      '9007199254740993', '123456789012345', '1234567890123456', '0.123456789012345', '0.1234567890123456', '99999999999999.9',
    ),
  },
);

const invoiceNoLiteralArb = (odd: number) =>
  mostly(
    odd,
    fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 999_999_999_999_999 }).map(String) }, { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }).map(String) }),
    fc.oneof(
      fc.bigInt({ min: 0n, max: (1n << 64n) + 5n }).map(String),
      numberLiteralArb,
      fc.constantFrom('"154132541653705"', 'null', 'true', '[]', '{}', '-1', '1.5', '1e3', '9007199254740991', '9007199254740992', '0'),
    ),
  );

const COUNTRIES = ['United Kingdom', 'Germany', 'France', 'EIRE', 'Österreich', '日本', 'Côte d\u2019Ivoire', '🇧🇷 Brasil', 'España'];
const countryArb = (odd: number) =>
  mostly(
    odd,
    stringLiteralArb(fc.constantFrom(...COUNTRIES), odd === 0 ? 1 : 3),
    fc.oneof(
      stringLiteralArb(fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 6 }), fc.constantFrom('', ' ', '   ', '\u3000', '\u00a0', '\ufeffFrance', 'France\ufeff', '\u2028'))),
      fc.constantFrom('44', 'null', '["France"]', '{}', 'true'),
    ),
  );

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const feedTime = (ms: number) => {
  const d = new Date(ms);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
};
const BASE_MS = Date.UTC(2020, 8, 18, 10, 0, 0);
const timestampArb = (odd: number) =>
  mostly(
    odd,
    // A few seconds only, so the scanner's cache of recent timestamps is both hit and missed.
    stringLiteralArb(fc.integer({ min: 0, max: 5 }).map((s) => feedTime(BASE_MS + s * 1000)), odd === 0 ? 0 : 2),
    fc.oneof(
      stringLiteralArb(
        fc.constantFrom('2020-09-18T10:55:23Z', '2020-09-18T12:55:23+02:00', '2020-09-18T10:55:23.250Z', '2020-02-30 10:55:23', '2020-09-18 24:00:00', 'yesterday', '', '0050-01-01 00:00:00', ' 2020-09-18 10:55:23', '２０２０-09-18 10:55:23'),
      ),
      fc.constantFrom('1600426523000', 'null'),
    ),
  );
const typeArb = (odd: number) =>
  mostly(
    odd,
    stringLiteralArb(fc.constantFrom('ORDER', 'RETURN'), odd === 0 ? 0 : 1),
    fc.oneof(stringLiteralArb(fc.constantFrom('order', 'EXCHANGE', '', 'ORDER ', 'RETURNS')), fc.constantFrom('1', 'null', '["ORDER"]')),
  );

/** Any JSON value as text, nested: what unknown fields may hold. */
const extraValueArb = fc.oneof(fc.json({ maxDepth: 3 }), stringLiteralArb(fc.string({ unit: 'binary', maxLength: 10 })), numberLiteralArb);
const extraKeyArb = fc.oneof(
  stringLiteralArb(fc.constantFrom('SKU', 'title', 'customer', 'note', 'invoice', 'items2', 'Country', '__proto__', 'constructor', 'quantit', 'unit_prices', '')),
  stringLiteralArb(fc.string({ maxLength: 8 })),
);

type Member = readonly [key: string, value: string];

/** A JSON object from members, with random whitespace around every token. */
const objectArb = (odd: number, members: fc.Arbitrary<Member[]>) =>
  members.chain((ms) =>
    fc.array(wsArb(odd), { minLength: 4 * ms.length + 2, maxLength: 4 * ms.length + 2 }).map((ws) => {
      let w = 0;
      const parts = ms.map(([k, v]) => `${ws[w++]}${k}${ws[w++]}:${ws[w++]}${v}${ws[w++]}`);
      return `{${ws[w++]}${parts.join(',')}${ms.length === 0 ? ws[w++] : ''}}`;
    }),
  );

/** Known members, each kept (or, when odd, dropped or doubled), in any order, with unknown ones among them. */
const membersArb = (odd: number, known: readonly fc.Arbitrary<Member>[], extras: number) =>
  fc
    .tuple(
      fc.tuple(...known.map((m) => fc.tuple(odd === 0 ? fc.constant(1) : fc.constantFrom(1, 1, 1, 1, 1, 1, 1, 1, 0, 2), m, m))),
      fc.array(fc.tuple(extraKeyArb, extraValueArb), { maxLength: extras }),
    )
    .chain(([ks, ex]) => {
      const all: Member[] = [];
      for (const [n, a, b] of ks) {
        if (n >= 1) all.push(a);
        if (n === 2) all.push(b);
      }
      all.push(...ex);
      return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
    });

/** A key as the feed writes it, or now and then with one character as a \u escape (the same key to JSON.parse). */
const keyArb = (name: string) =>
  fc.oneof(
    { weight: 20, arbitrary: fc.constant(`"${name}"`) },
    { weight: 1, arbitrary: fc.nat({ max: name.length - 1 }).map((i) => `"${name.slice(0, i)}\\u${name.charCodeAt(i).toString(16).padStart(4, '0')}${name.slice(i + 1)}"`) },
  );

const itemArb = (odd: number) =>
  mostly(
    odd,
    objectArb(
      odd,
      membersArb(
        odd,
        [
          fc.tuple(keyArb('quantity'), fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 100 }).map(String) }, { weight: 1, arbitrary: numberLiteralArb })),
          fc.tuple(keyArb('unit_price'), fc.oneof({ weight: 8, arbitrary: priceArb }, { weight: 1, arbitrary: numberLiteralArb })),
          fc.tuple(fc.constant('"SKU"'), stringLiteralArb(fc.string({ maxLength: 6 }))),
          fc.tuple(fc.constant('"title"'), stringLiteralArb(fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 10 })))),
        ],
        odd === 0 ? 1 : 2,
      ),
    ),
    fc.constantFrom('1', 'null', '[]', '"item"', '[{"quantity":1,"unit_price":1}]'),
  );

const itemsArb = (odd: number) =>
  mostly(
    odd,
    fc
      .tuple(fc.array(itemArb(odd), { maxLength: 5 }), fc.array(wsArb(odd), { minLength: 12, maxLength: 12 }))
      .map(([items, ws]) => `[${ws[0]}${items.map((it, i) => `${it}${ws[(i % 10) + 1]}`).join(',')}${ws[11]}]`),
    fc.constantFrom('{}', '"none"', 'null', '{"0":{"quantity":1,"unit_price":1}}'),
  );

const invoiceTextArb = (odd: number) =>
  fc
    .tuple(
      wsArb(odd),
      objectArb(
        odd,
        membersArb(
          odd,
          [
            fc.tuple(keyArb('invoice_no'), invoiceNoLiteralArb(odd)),
            fc.tuple(keyArb('country'), countryArb(odd)),
            fc.tuple(keyArb('timestamp'), timestampArb(odd)),
            fc.tuple(keyArb('type'), typeArb(odd)),
            fc.tuple(keyArb('items'), itemsArb(odd)),
          ],
          odd === 0 ? 1 : 3,
        ),
      ),
      wsArb(odd),
    )
    .map(([a, body, b]) => a + body + b);

const JSONISH = [0x22, 0x5c, 0x2c, 0x3a, 0x7b, 0x7d, 0x5b, 0x5d, 0x20, 0x30, 0x2e, 0x65, 0x2d, 0x80, 0xc3, 0xed, 0xff, 0x00];

describe('invoice scanner: same results as JSON.parse and validateInvoice', () => {
  it('on mostly valid invoices: escapes, exponents, unicode, whitespace, extra fields (property)', () => {
    let fast = 0;
    let runs = 0;
    fc.assert(
      fc.property(invoiceTextArb(0), (text) => {
        runs++;
        if (expectSame(utf8(text))) fast++;
      }),
      { numRuns: 3000 },
    );
    // Not a vacuous pass: most of these are scanned by the fast path itself.
    expect(fast / runs).toBeGreaterThan(0.15);
  });

  it('on invoice-like JSON text of every shape: missing, doubled, mistyped fields (property)', () => {
    fc.assert(
      fc.property(invoiceTextArb(2), (text) => {
        expectSame(utf8(text));
      }),
      { numRuns: 3000 },
    );
  });

  it('on the same text with bytes flipped, set, inserted, deleted or cut (property)', () => {
    fc.assert(
      fc.property(fc.oneof(invoiceTextArb(0), invoiceTextArb(1)), fc.array(mutationArb(JSONISH), { minLength: 1, maxLength: 3 }), (text, ms) => {
        expectSame(mutate(utf8(text), ms));
      }),
      { numRuns: 4000 },
    );
  });

  it('on random bytes and random JSON (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.json().map(utf8), fc.jsonValue().map((v) => utf8(JSON.stringify({ invoice_no: 1, items: [], v })))), (bytes) => {
        expectSame(bytes);
      }),
      { numRuns: 1000 },
    );
  });

  it('scans every valid line the simulator writes, mutations of them agree', () => {
    const gen = new InvoiceGenerator({ seed: 7, outOfOrderRatio: 0.05, lateRatio: 0.01, badRatio: 0.02 });
    const start = Date.UTC(2020, 8, 18);
    let valid = 0;
    for (let i = 0; i < 3000; i++) {
      const line = utf8(gen.next(start + i * 10).text);
      const reference = decodeInvoiceReference(line);
      if (reference.valid) {
        valid++;
        expect(scanInvoice(line)).toStrictEqual(reference);
      }
      expectSame(line);
    }
    expect(valid).toBeGreaterThan(2800);
  });
});

describe('invoice scanner: targeted cases', () => {
  const ITEM = '{"SKU":"21485","title":"RETROSPOT HEART HOT WATER BOTTLE","unit_price":4.95,"quantity":6}';
  const line = (o: { invoice_no?: string; country?: string; timestamp?: string; type?: string; items?: string; extra?: string } = {}) =>
    `{"invoice_no":${o.invoice_no ?? '154132541653705'},"country":${o.country ?? '"United Kingdom"'},"timestamp":${o.timestamp ?? '"2020-09-18 10:55:23"'},"type":${o.type ?? '"ORDER"'},"items":${o.items ?? `[${ITEM}]`}${o.extra ?? ''}}`;
  const item = (price: string, quantity: string, extra = '') => `[{"SKU":"1","title":"T","unit_price":${price},"quantity":${quantity}${extra}}]`;

  it('scans the feed format itself', () => {
    expect(expectSame(utf8(line()))).toBe(true);
    expect(scanInvoice(utf8(line()))).toEqual({ valid: true, invoiceNo: '154132541653705', country: 'United Kingdom', timestamp: Date.UTC(2020, 8, 18, 10, 55, 23), isReturn: false, totalMicros: 29_700_000, totalItems: 6 });
    expect(expectSame(utf8(` \t${line({ type: '"RETURN"', items: '[]' })}\r\n`))).toBe(true);
  });

  it('duplicate keys: JSON.parse keeps the last', () => {
    for (const text of [
      line({ extra: ',"country":"France"' }),
      line({ extra: ',"invoice_no":1' }),
      line({ extra: ',"type":"RETURN"' }),
      line({ extra: ',"items":[]' }),
      line({ extra: ',"timestamp":"2020-09-18 11:00:00"' }),
      line({ extra: ',"country":""' }),
      line({ items: item('1', '2', ',"quantity":3') }),
      line({ items: item('1', '2', ',"unit_price":-1') }),
    ])
      expectSame(utf8(text));
  });

  it('numbers: exponents, trailing zeros, signs, precision', () => {
    for (const q of ['1.0', '1e2', '1E0', '10e-1', '-0', '0', '1.5', '1e400', '01', '1.', '-1', '6.000000000000001', '9007199254740993']) expectSame(utf8(line({ items: item('4.95', q) })));
    for (const p of ['1e2', '4.950', '0.1e1', '-0', '-0.0', '0.0', '1e400', '1e-400', '0.1234567890123456789', '123456789012345.6', '2.675', '0.0000005', '0.0000015', '01.5', '.5', '5.']) expectSame(utf8(line({ items: item(p, '3') })));
    for (const n of ['0', '00', '-0', '1.0', '1e3', '9007199254740991', '9007199254740992', '9999999999999999', '1000000000000000', '999999999999999999', '1000000000000000000', '9223372036854775807', '9223372036854775808', '9223372036854775799', '9323372036854775800', '99999999999999999999', '-5']) expectSame(utf8(line({ invoice_no: n })));
    expect(scanInvoice(utf8(line({ invoice_no: '9007199254740991' })))?.invoiceNo).toBe('9007199254740991');
    expect(scanInvoice(utf8(line({ invoice_no: '0' })))?.invoiceNo).toBe('0');
    expect(scanInvoice(utf8(line({ invoice_no: '9223372036854775807' })))?.invoiceNo).toBe('9223372036854775807');
    expect(scanInvoice(utf8(line({ invoice_no: '9223372036854775808' })))).toBeNull();
  });

  it('totals beyond 2^53 micros are left to the reference', () => {
    expectSame(utf8(line({ items: item('99999999999', '999999999') })));
    expectSame(utf8(line({ items: `[${Array.from({ length: 20 }, () => '{"unit_price":9999999,"quantity":99999999}').join(',')}]` })));
  });

  it('escapes: in read fields, in keys, in skipped strings', () => {
    for (const text of [
      line({ country: '"Fran\\u00e7e"' }),
      line({ country: '"\\u0020"' }),
      line({ country: '"\\ud83c"' }),
      line({ timestamp: '"2020-09-18\\u002010:55:23"' }),
      line({ type: '"ORD\\u0045R"' }),
      line().replace('"country"', '"countr\\u0079"'),
      line().replace('"items"', '"\\u0069tems"'),
      line({ items: item('1', '1', ',"q\\u0075antity":0') }),
      line({ items: '[{"SKU":"\\"1\\\\","title":"\\ud800 lone \\udfff \\/\\b\\f\\n\\r\\t","unit_price":1,"quantity":1}]' }),
      line({ items: '[{"SKU":"\\x41","unit_price":1,"quantity":1}]' }),
      line({ items: '[{"SKU":"\\u12G4","unit_price":1,"quantity":1}]' }),
      line({ items: '[{"SKU":"\\u12","unit_price":1,"quantity":1}]' }),
    ])
      expectSame(utf8(text));
  });

  it('bytes: invalid UTF-8, encoded surrogates, control characters, a BOM', () => {
    const base = utf8(line());
    const titleAt = new TextDecoder().decode(base).indexOf('RETROSPOT');
    for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf], [0x00], [0x1f], [0x7f], [0xc3, 0xa9]]) {
      const b = Uint8Array.from([...base.subarray(0, titleAt), ...bad, ...base.subarray(titleAt)]);
      expectSame(b);
    }
    const countryAt = new TextDecoder().decode(base).indexOf('United');
    for (const bad of [[0xff], [0xc3, 0xa9], [0xed, 0xb0, 0x80], [0x09]]) expectSame(Uint8Array.from([...base.subarray(0, countryAt), ...bad, ...base.subarray(countryAt)]));
    expectSame(Uint8Array.from([0xef, 0xbb, 0xbf, ...base]));
    expectSame(utf8(line({ country: '"\ufeffFrance"' })));
    expectSame(utf8(line({ country: '"\u3000"' })));
    expectSame(utf8(line({ country: '"日本"' })));
  });

  it('whitespace: only space, tab, CR and LF between tokens', () => {
    for (const ws of [' ', '\t', '\r', '\n', '\u000b', '\u000c', '\u00a0', '\u2028', '\u0000'])
      for (const text of [line().replace(':', `:${ws}`), line().replace('"items"', `${ws}"items"`), `${ws}${line()}`, `${line()}${ws}`, line({ items: `[${ws}${ITEM}${ws}]` })]) expectSame(utf8(text));
  });

  it('grammar of skipped values: nested, deep, trailing commas, literals', () => {
    for (const extra of [
      ',"x":{"a":[1,2,{"b":null}],"c":true,"d":false}',
      ',"x":[]',
      ',"x":{}',
      ',"x":[1,]',
      ',"x":{"a":1,}',
      ',"x":{"a" 1}',
      ',"x":[1 2]',
      ',"x":nul',
      ',"x":True',
      ',"x":undefined',
      ',"x":-',
      ',"x":"unterminated',
      `,"x":${'['.repeat(40)}${']'.repeat(40)}`,
      `,"x":${'['.repeat(40)}${']'.repeat(39)}`,
      `,"x":${'{"a":'.repeat(20)}1${'}'.repeat(20)}`,
      ',',
      ',"x"',
      ',"x":',
      ',"__proto__":{"country":"France"}',
    ])
      expectSame(utf8(line({ extra })));
    for (const text of [line() + '}', line() + ',', line() + ' x', line().slice(0, -1), '{}', '[]', '', ' ', 'null', '{"invoice_no":1}']) expectSame(utf8(text));
  });

  it('items that are not objects or lack a field', () => {
    for (const items of ['[1]', '[null]', `[${ITEM},[]]`, '[{}]', '[{"quantity":1}]', '[{"unit_price":1}]', '[{"quantity":"1","unit_price":1}]', '{}', '"x"', `[${ITEM},]`, `[,${ITEM}]`])
      expectSame(utf8(line({ items })));
  });

  it('is given views into larger buffers, as replay does', () => {
    const text = `garbage${line()}\n${line({ country: '"France"' })}trailing`;
    const all = Buffer.from(text);
    const first = all.subarray(7, 7 + line().length);
    const second = all.subarray(8 + line().length, 8 + line().length + line({ country: '"France"' }).length);
    expect(expectSame(first)).toBe(true);
    expect(expectSame(second)).toBe(true);
    expect(expectSame(new Uint8Array(all.buffer, all.byteOffset + 7, line().length))).toBe(true);
  });

  it('memory the caller reuses after a line does not leak into what later lines decode to', () => {
    const first = Buffer.from(line({ country: '"Francia"', timestamp: '"2021-01-01 00:00:01"' }));
    expect(scanInvoice(first)).toMatchObject({ country: 'Francia' });
    first.write('Frbncia', first.indexOf('Francia'), 'latin1');
    first.write('2021-01-01 00:00:02', first.indexOf('2021-01-01 00:00:01'), 'latin1');
    expect(expectSame(first)).toBe(true);
    expect(scanInvoice(first)).toMatchObject({ country: 'Frbncia', timestamp: Date.UTC(2021, 0, 1, 0, 0, 2) });
    expect(scanInvoice(utf8(line({ country: '"Francia"' })))).toMatchObject({ country: 'Francia' });
  });

  it('timestamps and countries cached across lines stay right', () => {
    const times = ['"2020-09-18 10:55:23"', '"2020-09-18 10:55:24"', '"2020-09-18 10:55:23"', '"2020-09-18 10:55:25"', '"2020-09-18T10:55:23Z"', '"2020-09-18 10:55:23"', '"2020-02-30 10:55:23"', '"2020-09-18 10:55:2"'];
    const countries = ['"France"', '"Germany"', '"France"', '"Fr"', '"ecnarF"', '"日本"', '"EIRE"', '"   "', '"EIRE "'];
    for (let i = 0; i < 200; i++) expectSame(utf8(line({ timestamp: times[i % times.length]!, country: countries[(i * 7) % countries.length]! })));
  });
});
