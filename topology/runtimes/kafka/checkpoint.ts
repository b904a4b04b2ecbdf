import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A task's `.checkpoint` file, as Kafka Streams keeps one per task directory
 * (`<stateDir>/<applicationId>/<task>/.checkpoint`): for each changelog partition of the task's
 * persistent stores, the offset up to which the local state reflects it (the next offset it
 * lacks). JSON, offsets as decimal strings (int64, exact):
 *
 * ```json
 * {"version":1,"offsets":{"app-counts-changelog/3":"1000000"}}
 * ```
 *
 * Only persistent stores are checkpointed: a memory store is empty after a restart anyway.
 * Written to a temporary file and renamed over the old one, so a crash leaves the old file or the
 * new one, never half of one. Not fsynced: the stores' own writes are not synced either (RocksDB's
 * default), so after a power loss the file could claim more than the disk kept whatever this did;
 * a process crash (what the tests and `kill -9` do) loses neither.
 */
export const CHECKPOINT_FILE = '.checkpoint';
const VERSION = 1;

/** Changelog `topic/partition` -> the next offset the local state lacks. */
export type ChangelogOffsets = ReadonlyMap<string, bigint>;

export const partitionKey = (topic: string, partition: number): string => `${topic}/${partition}`;

export const taskDirectory = (stateDir: string, applicationId: string, taskId: string): string => join(stateDir, applicationId, taskId);

function parse(text: string): Map<string, bigint> | undefined {
  try {
    const data = JSON.parse(text) as { version?: unknown; offsets?: unknown };
    if (data.version !== VERSION || typeof data.offsets !== 'object' || data.offsets === null) return undefined;
    const out = new Map<string, bigint>();
    for (const [tp, offset] of Object.entries(data.offsets as Record<string, unknown>)) {
      if (typeof offset !== 'string' || !/^\d+$/.test(offset)) return undefined;
      out.set(tp, BigInt(offset));
    }
    return out;
  } catch {
    return undefined;
  }
}

/** The checkpoint of a task directory; undefined when there is none, or it cannot be read (then nothing local is trusted). */
export async function readCheckpoint(dir: string): Promise<Map<string, bigint> | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, CHECKPOINT_FILE), 'utf8');
  } catch {
    return undefined;
  }
  return parse(text);
}

export async function writeCheckpoint(dir: string, offsets: ChangelogOffsets): Promise<void> {
  const data = { version: VERSION, offsets: Object.fromEntries([...offsets].sort(([a], [b]) => (a < b ? -1 : 1)).map(([tp, o]) => [tp, String(o)])) };
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `${CHECKPOINT_FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(data));
  await rename(tmp, join(dir, CHECKPOINT_FILE));
}

export async function deleteCheckpoint(dir: string): Promise<void> {
  await rm(join(dir, CHECKPOINT_FILE), { force: true });
}

/**
 * Every checkpoint under `<stateDir>/<applicationId>/`, by task id: what this process can tell
 * the group leader about the state it holds when it first joins. Read synchronously, once, at start.
 */
export function scanCheckpoints(stateDir: string, applicationId: string): Map<string, Map<string, bigint>> {
  const out = new Map<string, Map<string, bigint>>();
  const root = join(stateDir, applicationId);
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return out;
  }
  for (const name of names) {
    if (!/^\d+_\d+$/.test(name)) continue;
    let text: string;
    try {
      text = readFileSync(join(root, name, CHECKPOINT_FILE), 'utf8');
    } catch {
      continue;
    }
    const offsets = parse(text);
    if (offsets !== undefined && offsets.size > 0) out.set(name, offsets);
  }
  return out;
}

/** How a persistent store's local state is used when its task (or standby) starts. */
export type StartPlan =
  /** The local state is good up to `from`: restore only the changelog from there. */
  | { readonly keep: true; readonly from: bigint }
  /** The local state cannot be trusted: wipe it and restore the whole changelog. */
  | { readonly keep: false; readonly reason: string };

/**
 * Decides from a checkpointed offset and the changelog partition's bounds. An offset beyond the
 * end means the changelog is not the one the state came from (the topic was recreated); one
 * below the start means records the state never saw were deleted (retention, DeleteRecords):
 * either way only a full restore is right.
 */
export function planStart(checkpointed: bigint | undefined, low: bigint, high: bigint): StartPlan {
  if (checkpointed === undefined) return { keep: false, reason: 'no checkpoint' };
  if (checkpointed > high) return { keep: false, reason: `checkpoint ${checkpointed} is beyond the changelog's end ${high}` };
  if (checkpointed < low) return { keep: false, reason: `checkpoint ${checkpointed} is below the changelog's start ${low}` };
  return { keep: true, from: checkpointed };
}
