import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Serdes, utf8Bytes, utf8Text } from '../../topology/api/serdes.ts';

// The serdes' UTF-8 goes through Buffer for speed; it must give exactly what the WHATWG
// TextEncoder and TextDecoder give, which is what the serdes used before and what users expect.
const encoder = new TextEncoder();
const decoder = new TextDecoder();

describe('UTF-8 in the built-in serdes', () => {
  it('encodes any string to the bytes TextEncoder gives, lone surrogates included', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => void expect([...utf8Bytes(s)]).toEqual([...encoder.encode(s)])), { numRuns: 500 });
    expect([...utf8Bytes('\ud800')]).toEqual([...encoder.encode('\ud800')]);
  });

  it('decodes any bytes as TextDecoder does: invalid sequences as U+FFFD, a leading byte-order mark dropped, views at an offset', () => {
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.string({ unit: 'binary' }).map((s) => encoder.encode(s)), fc.uint8Array({ maxLength: 10 }).map((b) => Uint8Array.from([0xef, 0xbb, 0xbf, ...b])));
    fc.assert(
      fc.property(bytes, fc.nat(5), (b, pad) => {
        const framed = new Uint8Array(pad + b.length + 2);
        framed.set(b, pad);
        const view = framed.subarray(pad, pad + b.length);
        expect(utf8Text(view)).toBe(decoder.decode(view));
        expect(utf8Text(Buffer.from(b))).toBe(decoder.decode(b));
      }),
      { numRuns: 1000 },
    );
  });

  it('round-trips strings and JSON through Serdes.string and Serdes.json', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.jsonValue(), (s, j) => {
        expect(Serdes.string.deserialize(Serdes.string.serialize(s))).toBe(s);
        const json = Serdes.json<unknown>();
        expect(json.deserialize(json.serialize(j))).toEqual(JSON.parse(JSON.stringify(j)));
      }),
      { numRuns: 300 },
    );
  });
});
