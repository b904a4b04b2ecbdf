import { RetailStreamsError } from '../topology/api/errors.ts';
import { jsonCodec, type KeyValueStore, type StateStore, type StoreCodec, type WindowStore } from './api.ts';
import { InMemoryKeyValueStore, InMemoryWindowStore } from './memory.ts';
import { RocksDbKeyValueStore, type RocksDbStoreOptions } from './rocksdb-key-value-store.ts';
import { RocksDbWindowStore } from './rocksdb-window-store.ts';
import type { RocksDbTuning } from './rocksdb-native.ts';

/** `memory`: a JavaScript Map, restored from the changelog on start; `rocksdb`: on disk, behind a bounded cache, so state may exceed the heap. */
export type StoreKind = 'memory' | 'rocksdb';

/** What a runtime tells a builder when it builds a task's store. */
export interface StoreBuildOptions {
  /** The runtime's default (`KafkaStreamsConfig.defaultStore`, `--store`) for a builder that does not pin a kind; memory when absent. */
  readonly kind?: StoreKind;
  /** Where a RocksDB store lives (the Kafka runtime: `<stateDir>/<applicationId>/<task>/<store>`); required for one. */
  readonly directory?: string;
  /**
   * The runtime keeps no local state on disk (the test driver, file replay): every store is built
   * in memory, a pinned RocksDB one too. Its behaviour is the same, only not on disk.
   */
  readonly memoryOnly?: boolean;
  /** Record cache of a RocksDB store, bytes (a share of `statestore.cache.max.bytes`); the builder's own setting wins. */
  readonly cacheMaxBytes?: number;
}

/**
 * A store definition: the topology holds these, each task builds its own store from them.
 * Memory and disk stores are interchangeable behind the same builder.
 */
export interface StoreBuilder<S extends StateStore = StateStore> {
  readonly name: string;
  readonly type: 'key-value' | 'window';
  readonly logged: boolean;
  /** Window stores: how long a window is kept after it starts (size + grace). */
  readonly retentionMs?: number;
  /** The kind this builder always builds (`Stores.persistent*`, `Stores.inMemory*`, `Materialized.storeType`); undefined: the runtime's default. */
  readonly kind?: StoreKind;
  /** A fresh store for one task, not yet open. */
  build(options?: StoreBuildOptions): S;
}

export interface StoreOptions<K, V> {
  readonly keyCodec?: StoreCodec<K>;
  readonly valueCodec?: StoreCodec<V>;
  /** Log writes to a changelog topic so the store is restored after a crash or a move. Default true. */
  readonly logged?: boolean;
  /** A RocksDB store's record cache, bytes; default 10 MiB. 0 writes every change through to disk. */
  readonly cacheMaxBytes?: number;
  /** A RocksDB store's memory (block cache, memtables). */
  readonly rocksdb?: RocksDbTuning;
}

export interface WindowStoreOptions<K, V> extends StoreOptions<K, V> {
  /** A RocksDB window store's time segment; default max(retention / 2, 60 s), as in Kafka Streams. */
  readonly segmentIntervalMs?: number;
}

/** Which kind to build, and where. */
function resolve(name: string, pinned: StoreKind | undefined, options: StoreBuildOptions): { kind: 'memory' } | { kind: 'rocksdb'; directory: string } {
  if (options.memoryOnly === true) return { kind: 'memory' };
  const kind = pinned ?? options.kind ?? 'memory';
  if (kind === 'memory') return { kind };
  if (options.directory === undefined || options.directory.length === 0)
    throw new RetailStreamsError('invalid-argument', `store ${name} is a RocksDB store and needs a directory to live in: build({ directory })`);
  return { kind, directory: options.directory };
}

const rocksDbOptions = (store: StoreOptions<unknown, unknown>, build: StoreBuildOptions): RocksDbStoreOptions => {
  const cacheMaxBytes = store.cacheMaxBytes ?? build.cacheMaxBytes;
  return { ...(cacheMaxBytes === undefined ? {} : { cacheMaxBytes }), ...(store.rocksdb === undefined ? {} : { rocksdb: store.rocksdb }) };
};

function keyValue<K, V>(name: string, options: StoreOptions<K, V>, pinned: StoreKind | undefined): StoreBuilder<KeyValueStore<K, V>> {
  const logged = options.logged ?? true;
  return {
    name,
    type: 'key-value',
    logged,
    ...(pinned === undefined ? {} : { kind: pinned }),
    build: (build = {}) => {
      const keyCodec = options.keyCodec ?? jsonCodec<K>();
      const valueCodec = options.valueCodec ?? jsonCodec<V>();
      const where = resolve(name, pinned, build);
      if (where.kind === 'memory') return new InMemoryKeyValueStore<K, V>(name, keyCodec, valueCodec, logged);
      return new RocksDbKeyValueStore<K, V>(name, keyCodec, valueCodec, logged, where.directory, rocksDbOptions(options as StoreOptions<unknown, unknown>, build));
    },
  };
}

function window<K, V>(name: string, windowSizeMs: number, retentionMs: number, options: WindowStoreOptions<K, V>, pinned: StoreKind | undefined): StoreBuilder<WindowStore<K, V>> {
  const logged = options.logged ?? true;
  return {
    name,
    type: 'window',
    logged,
    retentionMs,
    ...(pinned === undefined ? {} : { kind: pinned }),
    build: (build = {}) => {
      const keyCodec = options.keyCodec ?? jsonCodec<K>();
      const valueCodec = options.valueCodec ?? jsonCodec<V>();
      const where = resolve(name, pinned, build);
      if (where.kind === 'memory') return new InMemoryWindowStore<K, V>(name, windowSizeMs, keyCodec, valueCodec, logged);
      return new RocksDbWindowStore<K, V>(name, windowSizeMs, retentionMs, keyCodec, valueCodec, logged, where.directory, {
        ...rocksDbOptions(options as StoreOptions<unknown, unknown>, build),
        ...(options.segmentIntervalMs === undefined ? {} : { segmentIntervalMs: options.segmentIntervalMs }),
      });
    },
  };
}

/** Store factories, as Kafka Streams' `Stores`. */
export const Stores = {
  /** The runtime's default kind (`defaultStore`, `--store`): memory unless it says rocksdb. */
  keyValueStore<K, V>(name: string, options: StoreOptions<K, V> = {}): StoreBuilder<KeyValueStore<K, V>> {
    return keyValue(name, options, undefined);
  },
  windowStore<K, V>(name: string, windowSizeMs: number, retentionMs: number, options: WindowStoreOptions<K, V> = {}): StoreBuilder<WindowStore<K, V>> {
    return window(name, windowSizeMs, retentionMs, options, undefined);
  },
  /** Always RocksDB, whatever the runtime's default. */
  persistentKeyValueStore<K, V>(name: string, options: StoreOptions<K, V> = {}): StoreBuilder<KeyValueStore<K, V>> {
    return keyValue(name, options, 'rocksdb');
  },
  persistentWindowStore<K, V>(name: string, windowSizeMs: number, retentionMs: number, options: WindowStoreOptions<K, V> = {}): StoreBuilder<WindowStore<K, V>> {
    return window(name, windowSizeMs, retentionMs, options, 'rocksdb');
  },
  /** Always in memory, whatever the runtime's default. */
  inMemoryKeyValueStore<K, V>(name: string, options: StoreOptions<K, V> = {}): StoreBuilder<KeyValueStore<K, V>> {
    return keyValue(name, options, 'memory');
  },
  inMemoryWindowStore<K, V>(name: string, windowSizeMs: number, retentionMs: number, options: WindowStoreOptions<K, V> = {}): StoreBuilder<WindowStore<K, V>> {
    return window(name, windowSizeMs, retentionMs, options, 'memory');
  },
} as const;
