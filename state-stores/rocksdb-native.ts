import { mkdir } from 'node:fs/promises';
import type { RocksLevel } from '@nxtedition/rocksdb';
import { RetailStreamsError } from '../topology/api/errors.ts';

/**
 * One RocksDB database, as the persistent stores use it: synchronous point reads, batch writes
 * and range scans, asynchronous open and close. This is the only module that touches the
 * binding (@nxtedition/rocksdb, whose prebuilt binary ships in its npm package).
 *
 * What of the binding is public: the abstract-level API is documented and stable, but it is
 * asynchronous. Synchronous access is the binding's own "nxt API": `querySync` (range scans) is
 * public in its index.js; `_getManySync` (a MultiGet) and a chained batch's `_writeSync` are
 * underscore-prefixed and undocumented, though they are what its async `get` and `batch` run on
 * (so they are unlikely to go away without those changing too). They are used only here, checked
 * when a database opens, and a binding without them fails that open with a clear error; pin the
 * binding's version (12.2.x) when upgrading it.
 *
 * The prebuilt binary keeps RocksDB's assertions: an empty key aborts the process, so callers
 * never pass one (the stores prefix or lead every key with bytes of their own).
 */

/** Memory a database may use: its block cache and its memtables. */
export interface RocksDbTuning {
  /** Block cache, bytes; default 8 MiB. */
  readonly blockCacheBytes?: number;
  /**
   * Memtable budget, bytes (level compaction sized from it: write buffers of a quarter of it, at
   * most six, L1 as large as the budget); default 32 MiB.
   */
  readonly memtableBudgetBytes?: number;
}

/** A key on disk: bytes, or a string taken as its UTF-8. */
export type Key = string | Buffer;

/** A write: [key, value], a null value deleting the key. */
export type WriteOp = readonly [Key, string | null];

/** One page of a range scan. Values are read as UTF-8 text. */
export interface ScanOptions {
  readonly gt?: Key;
  readonly gte?: Key;
  readonly lt?: Key;
  readonly limit: number;
  readonly keys?: boolean;
  readonly values?: boolean;
  readonly keyEncoding?: 'utf8' | 'buffer';
}

const GET_OPTIONS = { valueEncoding: 'utf8', fillCache: true } as const;
const SYNC_METHODS = ['_getManySync', '_chainedBatch', 'querySync', 'getProperty'] as const;

export class RocksDb {
  readonly directory: string;
  private readonly db: RocksLevel;
  /** Range deletions in flight: they run synchronously in the binding, their promises settle later. */
  private pending: Promise<void>[] = [];
  private failure: unknown;

  private constructor(directory: string, db: RocksLevel) {
    this.directory = directory;
    this.db = db;
  }

  static async open(directory: string, tuning: RocksDbTuning = {}): Promise<RocksDb> {
    let binding: typeof import('@nxtedition/rocksdb');
    try {
      // Loaded when a persistent store opens: a program with memory stores only never loads the native binary.
      binding = await import('@nxtedition/rocksdb');
    } catch (e) {
      throw new RetailStreamsError('io', `cannot load the RocksDB binding (@nxtedition/rocksdb): ${(e as Error).message}`, { cause: e });
    }
    const proto = binding.RocksLevel.prototype as unknown as Record<string, unknown>;
    const missing = SYNC_METHODS.filter((m) => typeof proto[m] !== 'function');
    if (missing.length > 0)
      throw new RetailStreamsError('fatal', `this version of @nxtedition/rocksdb lacks ${missing.join(', ')}, which the persistent stores need for synchronous reads and writes; use 12.2.x`);
    await mkdir(directory, { recursive: true });
    const budget = tuning.memtableBudgetBytes ?? 32 * 1024 * 1024;
    const options = {
      createIfMissing: true,
      compaction: 'level',
      memtableMemoryBudget: budget,
      cacheSize: tuning.blockCacheBytes ?? 8 * 1024 * 1024,
      // Bloom (ribbon) filters and hashed data blocks: a read of an absent key rarely touches a data block.
      optimize: 'point-lookup',
    };
    // Given to the constructor as well: abstract-level opens a new database by itself on the next tick, with those.
    const db = new binding.RocksLevel(directory, options);
    try {
      await db.open(options);
    } catch (e) {
      throw new RetailStreamsError('io', `cannot open RocksDB at ${directory}: ${(e as Error).message}`, { cause: e });
    }
    return new RocksDb(directory, db);
  }

  get(key: Key): string | undefined {
    return this.checked(this.db._getManySync([key], GET_OPTIONS)[0]);
  }

  /** One native call for many keys (RocksDB MultiGet). */
  getMany(keys: readonly Key[]): (string | undefined)[] {
    const rows = this.db._getManySync(keys, GET_OPTIONS);
    const out: (string | undefined)[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = this.checked(rows[i]);
    return out;
  }

  private checked(row: string | Buffer | null | undefined): string | undefined {
    // null: the read was aborted or timed out, which the options here never ask for.
    if (row === null) throw new RetailStreamsError('io', `RocksDB at ${this.directory} aborted a read`);
    return row as string | undefined;
  }

  /** Writes in one atomic batch, synchronously (into the WAL and memtable: a process crash loses none of it). */
  write(ops: readonly WriteOp[]): void {
    if (ops.length === 0) return;
    const batch = this.db._chainedBatch();
    try {
      for (const [key, value] of ops) {
        if (value === null) batch._del(key);
        else batch._put(key, value);
      }
      batch._writeSync();
    } finally {
      batch._closeSync();
    }
  }

  /** Deletes [gte, lt). Runs now; a failure surfaces at the next `settle()`. */
  deleteRange(gte: Buffer, lt: Buffer): void {
    const p = this.db.clear({ gte, lt, keyEncoding: 'buffer' }).catch((e: unknown) => {
      this.failure ??= e;
    });
    this.pending.push(p);
  }

  /**
   * One page of a range scan: keys and values interleaved. RocksDB's `limit` ends the native
   * iterator, so a page shorter than `limit` is the last one.
   */
  scan(options: ScanOptions): (string | Buffer | undefined)[] {
    return this.db.querySync({ ...options, valueEncoding: 'utf8' }).rows;
  }

  /** Every [key, value] of a range, read a page at a time (a scan of any size holds one page). */
  *scanAll(range: { gte?: Key; lt?: Key }, keyEncoding: 'utf8' | 'buffer', values: boolean, pageSize = 1000): Generator<[Key, string | undefined]> {
    let lower: { gte?: Key; gt?: Key } = range.gte === undefined ? {} : { gte: range.gte };
    for (;;) {
      const rows = this.scan({ ...lower, ...(range.lt === undefined ? {} : { lt: range.lt }), limit: pageSize, keyEncoding, values });
      for (let i = 0; i < rows.length; i += 2) yield [rows[i] as Key, rows[i + 1] as string | undefined];
      if (rows.length < 2 * pageSize) return;
      lower = { gt: rows[rows.length - 2] as Key };
    }
  }

  property(name: string): string {
    return this.db.getProperty(name);
  }

  /** Waits for range deletions in flight; throws the first that failed. */
  async settle(): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    await Promise.all(pending);
    if (this.failure !== undefined) {
      const e = this.failure;
      this.failure = undefined;
      throw new RetailStreamsError('io', `RocksDB at ${this.directory} failed to delete a range: ${(e as Error).message}`, { cause: e });
    }
  }

  async close(): Promise<void> {
    await this.settle().finally(() => this.db.close());
  }
}
