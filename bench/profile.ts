/**
 * Where a program spends its CPU, for the targets it misses: one extra run under `node
 * --cpu-prof` (outside the timed rounds), summarized as the functions with the most self time
 * and the share of idle time (waiting on the broker or the disk) and of garbage collection.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Self time by function, largest first: `name file:line` and the share of all samples. */
  readonly top: readonly { readonly fn: string; readonly share: number }[];
}

/** A directory for `--cpu-prof-dir`, and the summary of the one profile written there (then removed). */
export function profileDir(): { dir: string; nodeArgs: string[]; summary: (n?: number) => ProfileSummary } {
  const dir = mkdtempSync(join(tmpdir(), 'retail-streams-bench-profile-'));
  return {
    dir,
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
    summary: (n = 12) => {
      try {
        const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
        if (files.length === 0) throw new Error('no profile was written');
        // The largest is the main thread's (worker threads write their own).
        const profiles = files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile);
        return summarize(profiles, n);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export function summarize(profiles: readonly CpuProfile[], n: number): ProfileSummary {
  const self = new Map<string, number>();
  let total = 0;
  for (const p of profiles) {
    const byId = new Map(p.nodes.map((node) => [node.id, node]));
    p.samples.forEach((id, i) => {
      const cf = byId.get(id)?.callFrame;
      const dt = p.timeDeltas[i] ?? 0;
      const fn = cf === undefined ? '(unknown)' : `${cf.functionName || '(anonymous)'} ${cf.url === '' ? '' : `${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`}`.trim();
      self.set(fn, (self.get(fn) ?? 0) + dt);
      total += dt;
    });
  }
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, n).map(([fn, t]) => ({ fn, share: total === 0 ? 0 : t / total }));
  return { totalMs: total / 1000, top };
}

export const describeProfile = (what: string, s: ProfileSummary): string =>
  `Profile of ${what} (node --cpu-prof, ${(s.totalMs / 1000).toFixed(1)} s sampled, self time): ${s.top.map((t) => `${t.fn} ${(t.share * 100).toFixed(1)}%`).join(', ')}.`;
