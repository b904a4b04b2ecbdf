// Real headless Chromium for the dashboard tests: Debian's `chromium` (infra/browser.sh installs it,
// `make test` runs that), driven by playwright-core, which brings no browser of its own.
import { execFileSync } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';
import { ROOT } from './cli.ts';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** The Chromium binary: `CHROMIUM`, else what infra/browser.sh finds (installing it with apt when missing). */
export function chromiumPath(): string {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  const out = execFileSync('bash', [`${ROOT}infra/browser.sh`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 10 * 60_000 });
  const path = out.trim().split('\n').pop() ?? '';
  if (path === '') throw new Error('infra/browser.sh found no chromium');
  return path;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_FLAGS, headless: true, timeout: 60_000 });
}
