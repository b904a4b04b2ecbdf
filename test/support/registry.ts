// A real Confluent-compatible schema registry for tests: Apicurio Registry run as a plain Java
// process by infra/registry/registry.sh (in-memory storage, 127.0.0.1 only, a free port).
//
//   const registry = await startRegistry();
//   // registry.url === 'http://127.0.0.1:PORT/apis/ccompat/v7'
//   await registry.stop();
//
// The global compatibility level starts at BACKWARD (as on Confluent's registry). Schema ids
// are content ids: the same schema text under two subjects gets the same id.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastLine, repoRoot, runScript } from './scripts.ts';

export interface Registry {
  /** Confluent-compatible base URL, e.g. http://127.0.0.1:PORT/apis/ccompat/v7 (no trailing slash). */
  readonly url: string;
  /** Working folder: registry.log, registry.pid, port, url. Removed by stop(). */
  readonly dir: string;
  /** Stops the JVM (SIGTERM, then SIGKILL) and removes dir. Idempotent. */
  stop(): Promise<void>;
  /** Stops and starts again on the same port, so url stays valid; all data is lost. */
  restart(): Promise<void>;
}

const script = join(repoRoot, 'infra', 'registry', 'registry.sh');

// First start may download the app (~160 MB) and record a JVM AOT cache; later ones take seconds.
const START_TIMEOUT_MS = 10 * 60 * 1000;
const STOP_TIMEOUT_MS = 60 * 1000;

// Registries not stopped yet: working folder -> JVM pid.
const live = new Map<string, number | undefined>();
let exitHookInstalled = false;

function keepDirs(): boolean {
  return process.env['REGISTRY_KEEP_DIR'] !== undefined;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Best effort, synchronous: 'exit' handlers cannot wait, so the JVM is killed outright.
  process.on('exit', () => {
    for (const [dir, pid] of live) {
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      if (!keepDirs()) {
        try {
          rmSync(dir, { recursive: true, force: true });
        } catch {
          // best effort
        }
      }
    }
    live.clear();
  });
}

const run = (args: readonly string[], timeoutMs: number): Promise<string> => runScript(script, args, timeoutMs);

function startedUrl(text: string): string {
  const last = lastLine(text);
  if (last === undefined) throw new Error('registry.sh start printed no URL');
  return last;
}

function readPid(dir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(dir, 'registry.pid'), 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function startIn(dir: string, port: number | undefined): Promise<{ url: string; pid: number | undefined }> {
  const args = ['start', '--dir', dir];
  if (port !== undefined) args.push('--port', String(port));
  const url = startedUrl(await run(args, START_TIMEOUT_MS));
  const pid = readPid(dir);
  live.set(dir, pid);
  return { url, pid };
}

async function stopIn(dir: string): Promise<void> {
  await run(['stop', '--dir', dir], STOP_TIMEOUT_MS);
  live.set(dir, undefined);
}

export async function startRegistry(): Promise<Registry> {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'retail-streams-registry-'));
  live.set(dir, undefined);
  let url: string;
  try {
    url = (await startIn(dir, undefined)).url;
  } catch (error) {
    await stopIn(dir).catch(() => undefined);
    throw error;
  }
  const port = Number(new URL(url).port);
  let stopped = false;

  return {
    url,
    dir,
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await stopIn(dir);
      live.delete(dir);
      if (!keepDirs()) rmSync(dir, { recursive: true, force: true });
    },
    async restart(): Promise<void> {
      if (stopped) throw new Error('registry was stopped; start a new one');
      await stopIn(dir);
      const again = await startIn(dir, port);
      if (again.url !== url) throw new Error(`registry came back at ${again.url}, expected ${url}`);
    },
  };
}
