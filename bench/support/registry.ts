/** A schema registry for the Avro measurements: infra/registry/registry.sh (Apicurio, in memory). */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './kafka.ts';

const script = join(repoRoot, 'infra', 'registry', 'registry.sh');

const sh = (args: string[], timeoutMs: number): Promise<string> =>
  new Promise((resolve, reject) =>
    execFile('bash', [script, ...args], { cwd: repoRoot, timeout: timeoutMs, killSignal: 'SIGKILL' }, (e, stdout, stderr) =>
      e ? reject(new Error(`registry.sh ${args[0]} failed: ${e.message}\n${stderr.slice(-1500)}`)) : resolve(stdout),
    ),
  );

export interface Registry {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startRegistry(): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), 'retail-streams-bench-registry-'));
  // SIGKILL it by its PID if the benchmark exits without stopping it.
  const killOnExit = () => {
    try {
      process.kill(Number(readFileSync(join(dir, 'registry.pid'), 'utf8').trim()), 'SIGKILL');
    } catch {
      // not started, or gone
    }
  };
  process.on('exit', killOnExit);
  const out = await sh(['start', '--dir', dir], 10 * 60_000);
  const url = out.trim().split('\n').pop() ?? '';
  if (!url.startsWith('http://127.0.0.1:')) throw new Error(`registry.sh start printed no URL: ${out}`);
  return {
    url,
    async stop() {
      try {
        await sh(['stop', '--dir', dir], 60_000);
      } finally {
        process.off('exit', killOnExit);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
