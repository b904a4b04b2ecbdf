import { randomUUID } from 'node:crypto';
import { renameSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../api/log.ts';

/** Kafka Streams' default `state.cleanup.delay.ms`: 10 minutes. */
export const DEFAULT_STATE_CLEANUP_DELAY_MS = 600_000;

/** A task directory's name: `<subtopology>_<partition>`, as under `<stateDir>/<applicationId>/`. */
const TASK_DIR = /^\d+_\d+$/;
/** A task directory moved aside to be removed (a crash mid-removal leaves one; the next pass finishes it). */
const TRASH_PREFIX = '.deleting-';

export interface StateCleanerOptions {
  readonly stateDir: string;
  readonly applicationId: string;
  /** How long a task directory must stay untouched before it is removed; `Infinity` never removes. */
  readonly delayMs: number;
  readonly clock: () => number;
  readonly log: Logger;
}

/**
 * Kafka Streams' state directory cleaner (`state.cleanup.delay.ms`). Task directories
 * (`<stateDir>/<applicationId>/<task>/`, see checkpoint.ts) stay behind when a task moves to
 * another instance; they are worth keeping for a while (the task may come back, and the
 * assignor prefers members with a checkpoint of it), not for ever. A pass removes every task
 * directory that
 *
 * - belongs to a task `inUse` says nothing of: the caller answers for the tasks it runs, is
 *   starting or closing, and the active and standby tasks of its latest assignment, and
 * - has not been touched for longer than `delayMs`: its newest modification time, of the folder
 *   itself and of what it directly holds (the `.checkpoint` file, rewritten at each commit or
 *   standby checkpoint; the store folders, whose entries RocksDB adds and removes as it writes).
 *
 * A directory is first renamed aside synchronously, right after `inUse` was asked about it (no
 * task can start in between: both run on the one JavaScript thread), then deleted: a task that
 * starts while the files go finds no directory and restores from its changelog. Passes run at
 * most every `delayMs` (as Kafka Streams schedules its cleaner thread), never two at a time.
 */
export class StateCleaner {
  private readonly o: StateCleanerOptions;
  private lastPass: number;
  private running = false;
  /** Directories moved aside in this pass, deleted at its end. */
  private readonly trash: string[] = [];

  constructor(o: StateCleanerOptions) {
    this.o = o;
    this.lastPass = o.clock();
  }

  private get appDir(): string {
    return join(this.o.stateDir, this.o.applicationId);
  }

  /** A pass when `delayMs` has gone by since the last one (or since start); the task ids it removed. */
  async maybeClean(inUse: (taskId: string) => boolean): Promise<string[]> {
    if (!Number.isFinite(this.o.delayMs) || this.running) return [];
    if (this.o.clock() - this.lastPass < this.o.delayMs) return [];
    return this.clean(inUse);
  }

  /** One pass now; the ids of the task directories removed. Failures are logged, never thrown. */
  async clean(inUse: (taskId: string) => boolean): Promise<string[]> {
    if (!Number.isFinite(this.o.delayMs) || this.running) return [];
    this.running = true;
    this.lastPass = this.o.clock();
    const removed: string[] = [];
    try {
      let names: string[];
      try {
        names = await readdir(this.appDir);
      } catch {
        return removed;
      }
      for (const name of names) {
        if (name.startsWith(TRASH_PREFIX)) {
          await this.remove(join(this.appDir, name));
          continue;
        }
        if (!TASK_DIR.test(name) || inUse(name)) continue;
        const touched = await lastTouched(join(this.appDir, name));
        if (touched === undefined) continue;
        const idleMs = this.o.clock() - touched;
        if (idleMs <= this.o.delayMs) continue;
        // Asked again, then moved aside in the same synchronous step: nothing opens it in between.
        if (inUse(name) || !this.moveAside(name)) continue;
        removed.push(name);
        this.o.log.info(`state cleaner: removed the directory of task ${name}, not assigned here and untouched for ${Math.round(idleMs / 1000)} s (state.cleanup.delay.ms ${this.o.delayMs})`);
      }
      for (const trash of this.trash) await this.remove(trash);
      this.trash.length = 0;
      return removed;
    } finally {
      this.running = false;
    }
  }


  private moveAside(name: string): boolean {
    const to = join(this.appDir, `${TRASH_PREFIX}${name}-${randomUUID()}`);
    try {
      // Synchronous on purpose: see the class comment.
      renameSync(join(this.appDir, name), to);
    } catch (e) {
      this.o.log.warn(`state cleaner: could not move the directory of task ${name} aside: ${(e as Error).message}`);
      return false;
    }
    this.trash.push(to);
    return true;
  }

  private async remove(path: string): Promise<void> {
    try {
      await rm(path, { recursive: true, force: true });
    } catch (e) {
      this.o.log.warn(`state cleaner: could not remove ${path}: ${(e as Error).message}`);
    }
  }
}

/** Newest mtime (ms) of a directory and its direct entries; undefined when it is not a directory. */
async function lastTouched(dir: string): Promise<number | undefined> {
  let newest: number;
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) return undefined;
    newest = s.mtimeMs;
  } catch {
    return undefined;
  }
  let entries: string[] = [];
  try {
    entries = await readdir(dir);
  } catch {
    return newest;
  }
  for (const e of entries) {
    try {
      newest = Math.max(newest, (await stat(join(dir, e))).mtimeMs);
    } catch {
      // gone meanwhile
    }
  }
  return newest;
}
