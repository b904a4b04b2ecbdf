import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Runs one of the infra/ scripts from the repository root; resolves with its stdout. */
export function runScript(script: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [script, ...args], { cwd: repoRoot, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${script.split('/').pop()} ${args.join(' ')} failed: ${error.message}\n${stderr}`.trimEnd()));
        return;
      }
      resolve(stdout);
    });
  });
}

/** The last non-empty line a script printed: the scripts print what they started there. */
export function lastLine(text: string): string | undefined {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  return lines[lines.length - 1];
}
