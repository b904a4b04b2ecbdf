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

/**
 * UTF-8 both ways through Buffer, not TextEncoder/TextDecoder: for the short strings of keys and
 * values a serde handles per record, `Buffer.from` takes its bytes from Node's shared pool and
 * costs about a seventh of `TextEncoder.encode`, which allocates a buffer per call, and
 * `toString` about half of `decode` (measured on Node 24). Invalid bytes become U+FFFD either
 * way; a leading byte-order mark is dropped, as TextDecoder drops it.
 */
export const utf8Bytes = (text: string): Uint8Array => Buffer.from(text, 'utf8');

export const utf8Text = (data: Uint8Array): string => {
  const b = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? b.toString('utf8', 3) : b.toString('utf8');
};

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
    serialize: (v: string | null) => (v === null ? null : utf8Bytes(v)),
    deserialize: (d: Uint8Array | null) => (d === null ? null : utf8Text(d)),
  } as Serde<string | null>,
  /** JSON text in UTF-8; `T` is what the code expects, not checked against the bytes. */
  json<T>(): Serde<T> {
    return {
      name: 'json',
      serialize: (v: T) => (v === null || v === undefined ? null : utf8Bytes(JSON.stringify(v))),
      deserialize: (d: Uint8Array | null) => (d === null ? (null as T) : (JSON.parse(utf8Text(d)) as T)),
    };
  },
} as const;
