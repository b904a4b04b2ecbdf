import { writeSync } from 'node:fs';
import type { StreamRecord } from '../topology/api/record.ts';
import type { ExternalSink, ExternalSinkFactory } from '../topology/api/sink.ts';
import type { FileStore } from './file-store.ts';

export interface FileSinkOptions<V> {
  readonly store: FileStore;
  /** Folder of this dataset inside the store, e.g. `time-kpis`. */
  readonly dir: string;
  /** `date-hour`: `<dir>/date=YYYY-MM-DD/hour=HH/...`, readable by Spark, Hive and DuckDB as one partitioned dataset. */
  readonly layout: 'flat' | 'date-hour';
  /**
   * How a committed file is named, deterministically, so a replay after a crash writes the
   * same names and the rename finds them done:
   * - `per-key`: one file per key (a window start), `part-<task>-<key>.json`;
   * - `range`: one file per commit, `part-<task>-<first key>-<last key>.json` (keys are offsets).
   */
  readonly naming: 'per-key' | 'range';
  readonly keyOf: (record: StreamRecord<unknown, V>) => number;
  readonly format: (record: StreamRecord<unknown, V>) => string;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Files a commit writes at once. */
const COMMIT_CONCURRENCY = 8;

/**
 * Test hook (fault injection), never for production: with RS_FAULT_KILL_BEFORE_RENAME=N the
 * process SIGKILLs itself right after writing its N-th temporary file (counted over every file
 * sink of the process) and before renaming it, to test the crash-between-write-and-rename case.
 */
const killBeforeRename = Number.parseInt(process.env.RS_FAULT_KILL_BEFORE_RENAME ?? '', 10);
let tempFilesWritten = 0;
const faultAfterTempWrite = (): void => {
  if (!(killBeforeRename > 0)) return;
  tempFilesWritten++;
  if (tempFilesWritten === killBeforeRename) {
    writeSync(2, `RS_FAULT_KILL_BEFORE_RENAME: killing process ${process.pid} after temp file ${tempFilesWritten}, before its rename\n`);
    process.kill(process.pid, 'SIGKILL');
  }
};

const partitionDir = (layout: 'flat' | 'date-hour', time: number): string => {
  if (layout === 'flat') return '';
  const d = new Date(time);
  return `date=${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}/hour=${pad(d.getUTCHours())}/`;
};

/**
 * Newline-delimited JSON files with a commit protocol: each file is written whole under a
 * temporary name, then renamed to its final name; a final name that exists means an earlier
 * attempt got there, so no row is doubled and none is lost.
 */
export function fileSink<V>(options: FileSinkOptions<V>): ExternalSinkFactory<unknown, V> {
  return (taskId: string): ExternalSink<unknown, V> => {
    const pending = new Map<string, { dir: string; lines: string[]; first: number; last: number }>();
    const created = new Set<string>();
    return {
      write(record) {
        const key = options.keyOf(record);
        const dir = `${options.dir}/${partitionDir(options.layout, options.naming === 'per-key' ? key : record.timestamp)}`.replace(/\/$/, '');
        const group = options.naming === 'per-key' ? `${dir}/${key}` : dir;
        let g = pending.get(group);
        if (g === undefined) pending.set(group, (g = { dir, lines: [], first: key, last: key }));
        g.lines.push(options.format(record));
        if (key < g.first) g.first = key;
        if (key > g.last) g.last = key;
      },
      async commit() {
        const groups = [...pending];
        // Folders first (few, and a file needs its folder), then the files, several at a time: each
        // file is a handful of round trips to the file system (or to HDFS), and one after another
        // they left the process idle for most of a commit of many windows.
        for (const [, g] of groups) {
          if (created.has(g.dir)) continue;
          await options.store.mkdirs(g.dir);
          created.add(g.dir);
        }
        let next = 0;
        const failures: unknown[] = [];
        const writer = async () => {
          while (next < groups.length) {
            const [group, g] = groups[next++]!;
            const name = options.naming === 'per-key' ? `part-${taskId}-${g.first}.json` : `part-${taskId}-${g.first}-${g.last}.json`;
            const tmp = `${g.dir}/.${name}.tmp`;
            try {
              await options.store.writeFile(tmp, g.lines.join('\n') + '\n');
              faultAfterTempWrite();
              await options.store.renameNoReplace(tmp, `${g.dir}/${name}`);
              // A group leaves `pending` only once renamed: a failed commit keeps the rest for the retry.
              pending.delete(group);
            } catch (e) {
              failures.push(e);
              return;
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(COMMIT_CONCURRENCY, groups.length) }, writer));
        if (failures.length > 0) throw failures[0];
      },
      async close() {
        pending.clear();
      },
    };
  };
}
