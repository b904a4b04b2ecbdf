/**
 * A serde turns values into bytes and back. `deserialize` may throw: sources catch and route the
 * failure to the dead-letter path rather than stopping the stream.
 */
export interface Serde<T> {
  readonly name: string;
  /** The bytes of a value (null for a null value or a tombstone). */
  serialize(value: T): Uint8Array | null;
  /** The value of some bytes; throws (a `RecordRejectedError` to give a reason) when they are not a valid value. */
  deserialize(data: Uint8Array | null): T;
  /**
   * Optional asynchronous preparation of a batch before it is deserialized (for example,
   * fetching unknown schemas from a registry, with retries), so `deserialize` stays synchronous.
   */
  prepare?(values: readonly (Uint8Array | null)[]): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The built-in serdes: raw bytes, UTF-8 strings and JSON (`Serdes.json<T>()`, typed, not validated).
 *
 * @example
 * ```ts
 * builder.stream<string | null, Order>('orders', { keySerde: Serdes.string, valueSerde: Serdes.json<Order>() });
 * ```
 */
export const Serdes = {
  bytes: { name: 'bytes', serialize: (v: Uint8Array | null) => v, deserialize: (d: Uint8Array | null) => d } as Serde<Uint8Array | null>,
  string: {
    name: 'string',
    serialize: (v: string | null) => (v === null ? null : encoder.encode(v)),
    deserialize: (d: Uint8Array | null) => (d === null ? null : decoder.decode(d)),
  } as Serde<string | null>,
  /** JSON text in UTF-8; `T` is what the code expects, not checked against the bytes. */
  json<T>(): Serde<T> {
    return {
      name: 'json',
      serialize: (v: T) => (v === null || v === undefined ? null : encoder.encode(JSON.stringify(v))),
      deserialize: (d: Uint8Array | null) => (d === null ? (null as T) : (JSON.parse(decoder.decode(d)) as T)),
    };
  },
} as const;
