// A real Apache HDFS for tests: one NameNode and one DataNode (Hadoop 3.5, WebHDFS on) run as
// plain Java processes on 127.0.0.1 by infra/hdfs/hdfs.sh, in a fresh temp folder.
//
//   const hdfs = await startHdfs();
//   // hdfs.webhdfs === 'http://127.0.0.1:PORT'  (REST root: `${hdfs.webhdfs}/webhdfs/v1/path?op=...`)
//   await hdfs.stopNode('namenode'); await hdfs.startNode('namenode');   // outage; data survives
//   await hdfs.stop();
//
// Permissions are off, so any ?user.name= may write. CREATE/APPEND are two-step: the NameNode
// answers 307 with a Location on http://127.0.0.1:<datanode port>, where the data goes.
// startHdfs() and startNode() resolve only once a real two-step write succeeds (live DataNode,
// out of safe mode). A NameNode started while the DataNode is down stays in safe mode (writes
// get 403 RetriableException) until the DataNode is back. A stopped DataNode is declared dead
// after ~20 s; until then the NameNode still redirects writes to it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastLine, repoRoot, runScript } from './scripts.ts';

export type HdfsNode = 'namenode' | 'datanode';

export interface Hdfs {
  /** WebHDFS base, e.g. http://127.0.0.1:PORT (no trailing slash, no /webhdfs/v1). */
  readonly webhdfs: string;
  /** Working folder: conf/, name/, data/, namenode.log, datanode.log, *.pid, ports.env. Removed by stop(). */
  readonly dir: string;
  /** Stops both nodes (SIGTERM, then SIGKILL after 20 s) and removes dir. Idempotent. */
  stop(): Promise<void>;
  /** Stops one node: SIGTERM (then SIGKILL after 20 s), or SIGKILL at once with kill: true. */
  stopNode(node: HdfsNode, opts?: { kill?: boolean }): Promise<void>;
  /**
   * Starts one node again on the same ports and data. Once both nodes run, resolves only when
   * the cluster serves writes again; otherwise when this node answers on its own port.
   */
  startNode(node: HdfsNode): Promise<void>;
}

const script = join(repoRoot, 'infra', 'hdfs', 'hdfs.sh');

// The first start on a machine fetches ~70 MB of jars with Maven; later starts take seconds.
const START_TIMEOUT_MS = 10 * 60 * 1000;
const NODE_TIMEOUT_MS = 3 * 60 * 1000;
const STOP_TIMEOUT_MS = 60 * 1000;

const liveDirs = new Set<string>();
let exitHookInstalled = false;

/** PID in dir/name.pid if that process is still ours (its command line names dir). */
function ownPid(dir: string, name: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(dir, `${name}.pid`), 'utf8').trim(), 10);
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(dir) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Best effort, synchronous: 'exit' handlers cannot wait, so the JVMs are killed outright.
  // (If this process dies without running it, hdfs.sh's --owner watchdog stops the cluster.)
  process.on('exit', () => {
    for (const dir of liveDirs) {
      for (const [name, signal] of [
        ['watchdog', 'SIGTERM'],
        ['namenode', 'SIGKILL'],
        ['datanode', 'SIGKILL'],
      ] as const) {
        const pid = ownPid(dir, name);
        if (pid === undefined) continue;
        try {
          process.kill(pid, signal);
        } catch {
          // already gone
        }
      }
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
      } catch {
        // a dying JVM may still hold it; it is only a temp folder
      }
    }
    liveDirs.clear();
  });
}

const run = (args: readonly string[], timeoutMs: number): Promise<string> => runScript(script, args, timeoutMs);

function startedUrl(text: string): string {
  const last = lastLine(text);
  if (last === undefined || !/^http:\/\/127\.0\.0\.1:\d+$/.test(last)) throw new Error(`hdfs.sh start printed no WebHDFS URL:\n${text}`);
  return last;
}

async function stopIn(dir: string): Promise<void> {
  try {
    await run(['stop', '--dir', dir], STOP_TIMEOUT_MS);
  } finally {
    liveDirs.delete(dir);
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

export async function startHdfs(): Promise<Hdfs> {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'retail-streams-hdfs-'));
  liveDirs.add(dir);
  let webhdfs: string;
  try {
    webhdfs = startedUrl(await run(['start', '--dir', dir, '--owner', String(process.pid)], START_TIMEOUT_MS));
  } catch (error) {
    await stopIn(dir).catch(() => undefined);
    throw error;
  }
  let stopped: Promise<void> | undefined;

  return {
    webhdfs,
    dir,
    stop(): Promise<void> {
      stopped ??= stopIn(dir);
      return stopped;
    },
    async stopNode(node: HdfsNode, opts?: { kill?: boolean }): Promise<void> {
      if (stopped !== undefined) throw new Error('hdfs: stopNode after stop()');
      const args = ['stop-node', '--dir', dir, '--node', node];
      if (opts?.kill === true) args.push('--kill');
      await run(args, STOP_TIMEOUT_MS);
    },
    async startNode(node: HdfsNode): Promise<void> {
      if (stopped !== undefined) throw new Error('hdfs: startNode after stop()');
      await run(['start-node', '--dir', dir, '--node', node], NODE_TIMEOUT_MS);
    },
  };
}
