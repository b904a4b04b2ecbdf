import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { murmur2, partitionFor } from '../../topology/internals/partitioner.ts';

const bytes = (s: string) => new TextEncoder().encode(s);

/**
 * Kafka's Utils.murmur2 transcribed in BigInt arithmetic modulo 2^32, to compare with the
 * implementation under test (which uses Math.imul and int32 shifts).
 */
function referenceMurmur2(data: Uint8Array): number {
  const M32 = 0xffffffffn;
  const mul = (a: bigint, b: bigint) => (a * b) & M32;
  const m = 0x5bd1e995n;
  let h = (0x9747b28cn ^ BigInt(data.length)) & M32;
  const whole = data.length - (data.length % 4);
  for (let i = 0; i < whole; i += 4) {
    let k = BigInt(data[i]!) | (BigInt(data[i + 1]!) << 8n) | (BigInt(data[i + 2]!) << 16n) | (BigInt(data[i + 3]!) << 24n);
    k = mul(k, m);
    k ^= k >> 24n;
    k = mul(k, m);
    h = mul(h, m);
    h ^= k;
  }
  const rest = data.length % 4;
  if (rest === 3) h ^= BigInt(data[whole + 2]!) << 16n;
  if (rest >= 2) h ^= BigInt(data[whole + 1]!) << 8n;
  if (rest >= 1) {
    h ^= BigInt(data[whole]!);
    h = mul(h, m);
  }
  h ^= h >> 13n;
  h = mul(h, m);
  h ^= h >> 15n;
  return Number(BigInt.asIntN(32, h));
}

describe('murmur2 (Kafka default partitioner)', () => {
  it('matches the vectors of Kafka\u2019s UtilsTest.testMurmur2', () => {
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [input, expected] of cases) expect(murmur2(bytes(input)), input).toBe(expected);
  });

  it('agrees with a BigInt transcription of the Java code on arbitrary bytes, including high bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        expect(murmur2(data)).toBe(referenceMurmur2(data));
      }),
      { numRuns: 1000, examples: [[new Uint8Array([])], [new Uint8Array([0xff])], [new Uint8Array([0x80, 0xff, 0xfe])], [new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff])]] },
    );
  });

  it('places keys like the Java producer: toPositive(murmur2) % partitions', () => {
    // (-790332482 & 0x7fffffff) = 1357151166
    expect(partitionFor(bytes('foobar'), 50)).toBe(16);
    expect(partitionFor(bytes('foobar'), 10)).toBe(6);
    expect(partitionFor(bytes('21'), 10)).toBe(0);
    expect(partitionFor(bytes('abc'), 10)).toBe(7);
  });

  it('always gives a partition in range, 0 for a null key', () => {
    expect(partitionFor(null, 12)).toBe(0);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 32 }), fc.integer({ min: 1, max: 1000 }), (key, n) => {
        const p = partitionFor(key, n);
        expect(Number.isInteger(p) && p >= 0 && p < n).toBe(true);
        expect(p).toBe((referenceMurmur2(key) & 0x7fffffff) % n);
      }),
    );
  });
});
