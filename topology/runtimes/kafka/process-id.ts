import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../api/log.ts';

/**
 * This instance's process id, as Kafka Streams keeps it in its state directory: the same across
 * restarts on one state directory, so exactly-once v2's transactional id (`<application>-<process
 * id>-<thread>`) lets a restarted process fence its predecessor's open transaction at once
 * instead of leaving it to the transaction timeout. Two live processes on one state directory
 * would fence each other: the second takes a fresh id, and says so.
 */
export function processId(stateDir: string, applicationId: string, log: Logger): string {
  const dir = join(stateDir, applicationId);
  const file = join(dir, 'process-id');
  const lock = join(dir, 'process-id.lock');
  mkdirSync(dir, { recursive: true });
  let id: string;
  try {
    id = readFileSync(file, 'utf8').trim();
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new Error('not a process id');
  } catch {
    id = randomUUID();
    writeFileSync(file, `${id}\n`);
  }
  const holder = lockHolder(lock);
  if (holder !== undefined && holder !== process.pid && alive(holder)) {
    const fresh = randomUUID();
    log.warn(`state directory ${dir} is in use by process ${holder}: this instance runs as process ${fresh}`);
    return fresh;
  }
  writeFileSync(lock, `${process.pid}\n`);
  return id;
}

const lockHolder = (lock: string): number | undefined => {
  try {
    const pid = Number(readFileSync(lock, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
};

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};
