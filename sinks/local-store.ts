import { mkdir, open, link, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileStore } from './file-store.ts';

/**
 * A local folder. Paths are relative to `root`. `durable: false` skips fsync: for a one-shot
 * replay, which is rerun rather than resumed after a crash.
 */
export class LocalFileStore implements FileStore {
  readonly root: string;
  readonly description: string;
  private readonly durable: boolean;
  constructor(root: string, options: { durable?: boolean } = {}) {
    this.root = root;
    this.description = root;
    this.durable = options.durable ?? true;
  }

  async mkdirs(path: string): Promise<void> {
    await mkdir(join(this.root, path), { recursive: true });
  }

  async writeFile(path: string, content: string): Promise<void> {
    const fh = await open(join(this.root, path), 'w');
    try {
      await fh.writeFile(content);
      if (this.durable) await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async renameNoReplace(from: string, to: string): Promise<boolean> {
    // link() fails when the target exists, where rename() would silently replace it.
    try {
      await link(join(this.root, from), join(this.root, to));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      await unlink(join(this.root, from));
      return false;
    }
    await unlink(join(this.root, from));
    return true;
  }

  async delete(path: string): Promise<void> {
    await unlink(join(this.root, path)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
}
