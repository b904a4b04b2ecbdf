/**
 * Avro on the wire, Confluent style: magic byte 0, the schema id as a 4-byte big-endian integer,
 * then the Avro binary body. Schemas are parsed with avsc, with two changes that matter for
 * untrusted input and for invoice numbers:
 * - `long` is read as a BigInt (all 64 bits: invoice numbers go up to 2^63-1, beyond a double);
 * - arrays and maps refuse a block count larger than the bytes left, so a corrupt or hostile
 *   count cannot make the decoder allocate gigabytes or spin (avsc trusts counts as given).
 */
import avsc from 'avsc';

export type AvroType = avsc.Type;

export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

const MIN_LONG = -(1n << 63n);
const MAX_LONG = (1n << 63n) - 1n;

/** Avro `long` as a BigInt; writing also takes safe-integer numbers (KPI counts). */
export const bigLongType: AvroType = avsc.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(0),
  toBuffer: (n: bigint | number) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(n));
    return buf;
  },
  fromJSON: (v: unknown) => BigInt(v as string | number),
  toJSON: (n: bigint) => (n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString()),
  isValid: (n: unknown) =>
    (typeof n === 'bigint' && n >= MIN_LONG && n <= MAX_LONG) || (typeof n === 'number' && Number.isSafeInteger(n)),
  compare: (a: bigint | number, b: bigint | number) => {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  },
});

/** The parts of avsc's Tap the guards read (not in avsc's published typings). */
interface Tap {
  buf: Buffer;
  pos: number;
  readLong(): number;
  skipLong(): void;
  readString(): string;
}
interface Readable {
  _read(tap: Tap): unknown;
}

/** Most items an array or map of zero-byte values (null, empty records) may hold. */
const MAX_ZERO_SIZE_ITEMS = 100_000;

/** Can a value of this type take zero bytes? Then a count is not bounded by the bytes left. */
function maybeEmpty(type: AvroType, seen = new Set<AvroType>()): boolean {
  if (seen.has(type)) return false;
  seen.add(type);
  const t = type as unknown as { typeName: string; fields?: { type: AvroType }[]; size?: number; types?: AvroType[] };
  switch (t.typeName) {
    case 'null':
      return true;
    case 'record':
    case 'error':
      return (t.fields ?? []).every((f) => maybeEmpty(f.type, seen));
    case 'fixed':
      return t.size === 0;
    default:
      // Every other type takes at least a byte (a union its branch index, an array its count).
      return false;
  }
}

/** Reads one block count: a negative count is followed by the block's size in bytes. */
function blockCount(tap: Tap, bound: number): number {
  let n = tap.readLong();
  if (n < 0) {
    n = -n;
    tap.skipLong();
  }
  if (n !== 0 && (!Number.isSafeInteger(n) || n > bound)) throw new Error(`block count ${n} is larger than the ${Math.max(0, tap.buf.length - tap.pos)} bytes left`);
  return n;
}

class GuardedArrayType extends avsc.types.ArrayType {
  _read(tap: Tap): unknown[] {
    const items = (this as unknown as { itemsType: AvroType & Readable }).itemsType;
    const empty = maybeEmpty(items);
    const val: unknown[] = [];
    for (;;) {
      const bound = empty ? MAX_ZERO_SIZE_ITEMS - val.length : tap.buf.length - tap.pos;
      const n = blockCount(tap, bound);
      if (n === 0) return val;
      for (let i = 0; i < n; i++) val.push(items._read(tap));
      if (tap.pos > tap.buf.length) return val; // truncated: fromBuffer reports it
    }
  }
}

class GuardedMapType extends avsc.types.MapType {
  _read(tap: Tap): Record<string, unknown> {
    const values = (this as unknown as { valuesType: AvroType & Readable }).valuesType;
    const val: Record<string, unknown> = {};
    for (;;) {
      // Every entry has a key, whose length takes at least a byte.
      const n = blockCount(tap, tap.buf.length - tap.pos);
      if (n === 0) return val;
      for (let i = 0; i < n; i++) {
        const key = tap.readString();
        val[key] = values._read(tap);
      }
      if (tap.pos > tap.buf.length) return val;
    }
  }
}

const typeHook = (schema: unknown, opts: avsc.ForSchemaOptions): AvroType | undefined => {
  if (schema === 'long') return bigLongType;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return undefined;
  const s = schema as { type?: unknown; logicalType?: unknown };
  if (s.type === 'long' && s.logicalType === undefined) return bigLongType;
  if (s.type === 'array') return new GuardedArrayType(schema as never, opts as never) as unknown as AvroType;
  if (s.type === 'map') return new GuardedMapType(schema as never, opts as never) as unknown as AvroType;
  return undefined;
};

/** The avsc options every schema of the project is parsed with. */
export const avroOptions = (): Partial<avsc.ForSchemaOptions> => ({ typeHook: typeHook as avsc.ForSchemaOptions['typeHook'], wrapUnions: 'never' });

/** Parses a schema (object or JSON text) with the project's long and array handling. */
export function parseSchema(schema: object | string): AvroType {
  const parsed: unknown = typeof schema === 'string' ? JSON.parse(schema) : schema;
  return avsc.Type.forSchema(parsed as avsc.Schema, avroOptions());
}

/** Confluent framing of an Avro body. */
export function frame(schemaId: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out[0] = MAGIC_BYTE;
  out.writeUInt32BE(schemaId >>> 0, 1);
  out.set(body, HEADER_BYTES);
  return out;
}

/** Encodes a value with a registered schema, framed. Throws when the value does not fit the schema. */
export function encodeFramed(type: AvroType, schemaId: number, value: unknown): Buffer {
  return frame(schemaId, type.toBuffer(value));
}

/** The schema id of a framed record (bytes must start with the magic byte and hold a header). */
export const schemaIdOf = (bytes: Uint8Array): number => ((bytes[1]! << 24) | (bytes[2]! << 16) | (bytes[3]! << 8) | bytes[4]!) >>> 0;

/** True when the bytes are Confluent-framed: the first byte is the magic byte 0. */
export const isFramed = (bytes: Uint8Array | null): bytes is Uint8Array => bytes !== null && bytes.length > 0 && bytes[0] === MAGIC_BYTE;

/** Decodes an Avro body; throws on a truncated body, trailing bytes or a corrupt count. */
export function decodeBody(type: AvroType, bytes: Uint8Array, offset = HEADER_BYTES): unknown {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset + offset, bytes.length - offset);
  return type.fromBuffer(buf);
}
