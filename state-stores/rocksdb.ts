import { mkdir } from 'node:fs/promises';
import { RocksLevel } from '@nxtedition/rocksdb';
import type { ChangelogEntry } from './api.ts';
import type { Persistence } from './memory.ts';

/**
 * A store's RocksDB database: the on-disk copy of its entries, written in one batch per commit
 * and loaded when the task starts. Window expiry is written as deletes, so the disk holds open
 * windows only.
 */
export class RocksDbPersistence implements Persistence {
  private readonly location: string;
  private db: RocksLevel | undefined;

  constructor(location: string) {
    this.location = location;
  }

  async open(restore: (entry: ChangelogEntry) => void): Promise<void> {
    await mkdir(this.location, { recursive: true });
    const db = new RocksLevel(this.location);
    await db.open();
    this.db = db;
    for await (const [key, value] of db.iterator({ keyEncoding: 'utf8', valueEncoding: 'utf8' })) restore({ key: key as string, value: value as string });
  }

  async write(entries: readonly ChangelogEntry[]): Promise<void> {
    if (entries.length === 0 || this.db === undefined) return;
    await this.db.batch(
      entries.map((e) => (e.value === null ? { type: 'del' as const, key: e.key } : { type: 'put' as const, key: e.key, value: e.value })),
      { keyEncoding: 'utf8', valueEncoding: 'utf8' },
    );
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    await db?.close();
  }
}
