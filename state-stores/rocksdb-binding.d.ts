// The binding ships no types; this is the part of its abstract-level API the stores use.
declare module '@nxtedition/rocksdb' {
  interface Encodings {
    keyEncoding?: 'utf8' | 'buffer';
    valueEncoding?: 'utf8' | 'buffer';
  }
  type Operation = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };
  export class RocksLevel {
    constructor(location: string, options?: Record<string, unknown>);
    open(): Promise<void>;
    close(): Promise<void>;
    batch(operations: readonly Operation[], options?: Encodings): Promise<void>;
    iterator(options?: Encodings): AsyncIterable<[string | Buffer, string | Buffer]>;
  }
}
