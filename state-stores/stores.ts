import { jsonCodec, type KeyValueStore, type StateStore, type StoreCodec, type WindowStore } from './api.ts';
import { InMemoryKeyValueStore, InMemoryWindowStore, type Persistence } from './memory.ts';

/** `memory`: in memory only; `rocksdb`: the same, persisted to a local RocksDB per store and task. */
export type StoreKind = 'memory' | 'rocksdb';

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
  /** A fresh store for one task; `persistence` backs it on disk (RocksDB). */
  build(persistence?: Persistence): S;
}

export interface StoreOptions<K, V> {
  readonly keyCodec?: StoreCodec<K>;
  readonly valueCodec?: StoreCodec<V>;
  /** Log writes to a changelog topic so the store is restored after a crash or a move. Default true. */
  readonly logged?: boolean;
}

export const Stores = {
  keyValueStore<K, V>(name: string, options: StoreOptions<K, V> = {}): StoreBuilder<KeyValueStore<K, V>> {
    const logged = options.logged ?? true;
    return {
      name,
      type: 'key-value',
      logged,
      build: (persistence) => new InMemoryKeyValueStore<K, V>(name, options.keyCodec ?? jsonCodec<K>(), options.valueCodec ?? jsonCodec<V>(), logged, persistence),
    };
  },
  windowStore<K, V>(name: string, windowSizeMs: number, retentionMs: number, options: StoreOptions<K, V> = {}): StoreBuilder<WindowStore<K, V>> {
    const logged = options.logged ?? true;
    return {
      name,
      type: 'window',
      logged,
      retentionMs,
      build: (persistence) =>
        new InMemoryWindowStore<K, V>(name, windowSizeMs, options.keyCodec ?? jsonCodec<K>(), options.valueCodec ?? jsonCodec<V>(), logged, persistence),
    };
  },
} as const;
