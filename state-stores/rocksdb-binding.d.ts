// The binding ships no types. This is the part the stores use: the abstract-level API (open,
// close, batch, iterator, clear, getProperty), `querySync` (public in its index.js), and three
// synchronous methods of its "nxt API" that are not documented (underscore-prefixed), used only
// through state-stores/rocksdb-native.ts, which checks they exist when a database opens.
declare module '@nxtedition/rocksdb' {
  interface Encodings {
    keyEncoding?: 'utf8' | 'buffer';
    valueEncoding?: 'utf8' | 'buffer';
  }
  type Operation = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };
  type Key = string | Buffer;
  interface Range {
    gt?: Key;
    gte?: Key;
    lt?: Key;
    lte?: Key;
    limit?: number;
    reverse?: boolean;
  }
  interface QueryOptions extends Range, Encodings {
    keys?: boolean;
    values?: boolean;
    fillCache?: boolean;
  }
  /** Keys and values interleaved: [key0, value0, key1, value1, ...]. */
  interface QueryResult {
    rows: (string | Buffer | undefined)[];
    finished: boolean;
  }
  /** The native write batch behind `db.batch()` (chained-batch.js). */
  interface NativeChainedBatch {
    _put(key: Key, value: Key): void;
    _del(key: Key): void;
    _writeSync(options?: Record<string, unknown>): void;
    _closeSync(): void;
  }
  export class RocksLevel {
    constructor(location: string, options?: Record<string, unknown>);
    readonly status: string;
    open(options?: Record<string, unknown>): Promise<void>;
    close(): Promise<void>;
    batch(operations: readonly Operation[], options?: Encodings): Promise<void>;
    iterator(options?: Encodings): AsyncIterable<[string | Buffer, string | Buffer]>;
    clear(options?: Range & Encodings): Promise<void>;
    getProperty(property: string): string;
    querySync(options?: QueryOptions): QueryResult;
    _getManySync(keys: readonly Key[], options?: { valueEncoding?: 'utf8' | 'buffer'; fillCache?: boolean }): (string | Buffer | undefined | null)[];
    _chainedBatch(): NativeChainedBatch;
  }
}
