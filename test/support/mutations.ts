import fc from 'fast-check';

/** One edit of a byte string: what corrupts a record on the wire or a line in a file. */
export type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; byte: number }
  | { op: 'cut'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; n: number };

/**
 * Random edits; `favoured` bytes (say, JSON's structural ones) are set and inserted more often
 * than chance would, so edits hit the parser's decisions rather than only string contents.
 */
export function mutationArb(favoured: readonly number[] = []): fc.Arbitrary<Mutation> {
  const byte = favoured.length > 0 ? fc.oneof(fc.constantFrom(...favoured), fc.integer({ min: 0, max: 255 })) : fc.integer({ min: 0, max: 255 });
  const bytes = favoured.length > 0 ? fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.constantFrom(...favoured).map((b) => Uint8Array.of(b))) : fc.uint8Array({ minLength: 1, maxLength: 12 });
  return fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte }),
    fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 12 }) }),
  );
}

/** Applies the edits in order to a copy; positions wrap around the current length. */
export function mutate(input: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = Uint8Array.from(input);
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    if (m.op === 'flip' && b.length > 0) b[at] = b[at]! ^ (1 << m.bit);
    else if (m.op === 'set' && b.length > 0) b[at] = m.byte;
    else if (m.op === 'cut') b = b.slice(0, at);
    else if (m.op === 'insert') b = Uint8Array.from([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
    else if (m.op === 'delete') b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + m.n)]);
  }
  return b;
}
