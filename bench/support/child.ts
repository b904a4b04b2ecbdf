/**
 * Child processes of the benchmark: output teed to a log file and scanned line by line, memory
 * read from /proc, and stopped by their own PID only (SIGTERM, then SIGKILL after a grace time).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Vm {
  /** Peak resident set size (VmHWM), KiB. */
  readonly hwmKb: number;
  /** Current resident set size (VmRSS), KiB. */
  readonly rssKb: number;
}

/** VmHWM and VmRSS of a live process, or undefined once it is gone. */
export function readVm(pid: number): Vm | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { hwmKb: kb('VmHWM'), rssKb: kb('VmRSS') };
}

type Waiter = { re: RegExp; resolve: (m: RegExpMatchArray) => void };

/** Children still running: SIGKILLed, by PID, if the benchmark itself exits early. */
const live = new Set<Child>();
process.on('exit', () => {
  for (const c of live) c.kill();
});

export class Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly startedAt: number;
  readonly exited: Promise<ChildExit>;
  private readonly log: WriteStream;
  private readonly tail: string[] = [];
  private waiters: Waiter[] = [];
  private exit: ChildExit | undefined;
  private readonly name: string;

  constructor(name: string, command: string, args: readonly string[], opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string }) {
    this.name = name;
    this.log = createWriteStream(opts.logFile, { flags: 'a' });
    this.log.write(`---- ${new Date().toISOString()} ${command} ${args.join(' ')}\n`);
    this.startedAt = performance.now();
    this.proc = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (this.proc.pid === undefined) throw new Error(`${name}: could not start ${command}`);
    this.pid = this.proc.pid;
    live.add(this);
    for (const stream of [this.proc.stdout!, this.proc.stderr!]) {
      let carry = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        this.log.write(chunk);
        const parts = (carry + chunk).split('\n');
        carry = parts.pop() ?? '';
        for (const line of parts) this.onLine(line);
      });
      stream.on('end', () => carry !== '' && this.onLine(carry));
    }
    this.exited = new Promise((resolve) => {
      this.proc.once('error', (e) => {
        this.log.write(`spawn error: ${e.message}\n`);
        live.delete(this);
        this.exit = { code: -1, signal: null };
        resolve(this.exit);
      });
      this.proc.once('close', (code, signal) => {
        live.delete(this);
        this.exit = { code, signal };
        this.log.end(`---- exit code ${code} signal ${signal}\n`);
        resolve(this.exit);
      });
    });
  }

  private onLine(line: string): void {
    this.tail.push(line);
    if (this.tail.length > 40) this.tail.shift();
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      const m = w.re.exec(line);
      if (m !== null) w.resolve(m);
      else still.push(w);
    }
    this.waiters = still;
  }

  /** Last lines of output, for error messages. */
  lastLines(n = 15): string {
    return this.tail.slice(-n).join('\n');
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** The first future line matching `re`; rejects when the child exits first or after `timeoutMs`. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no line matching ${re} after ${timeoutMs} ms\n${this.lastLines()}`)), timeoutMs);
      const w: Waiter = {
        re,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      this.waiters.push(w);
      void this.exited.then((e) => {
        if (!this.waiters.includes(w)) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`${this.name}: exited (code ${e.code}, signal ${e.signal}) before a line matching ${re}\n${this.lastLines()}`));
      });
    });
  }

  vm(): Vm | undefined {
    return this.running ? readVm(this.pid) : undefined;
  }

  /** SIGTERM, then SIGKILL if still running after `graceMs`. */
  async stop(graceMs = 30_000): Promise<ChildExit> {
    if (!this.running) return this.exited;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const e = await this.exited;
    clearTimeout(timer);
    return e;
  }

  kill(): void {
    this.signal('SIGKILL');
  }

  private signal(sig: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      // already gone
    }
  }
}

/** Runs a command to completion; resolves with its exit, full stdout and sampled peak RSS. */
export async function runToEnd(
  name: string,
  command: string,
  args: readonly string[],
  opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number },
): Promise<{ exit: ChildExit; stdout: string; elapsedMs: number; peakRssKb: number; child: Child }> {
  const child = new Child(name, command, args, opts);
  let stdout = '';
  child.proc.stdout!.on('data', (c: string) => (stdout += c));
  let peakRssKb = 0;
  const sampler = setInterval(() => (peakRssKb = Math.max(peakRssKb, child.vm()?.hwmKb ?? 0)), 200);
  const timer = setTimeout(() => child.kill(), opts.timeoutMs);
  const exit = await child.exited;
  const elapsedMs = performance.now() - child.startedAt;
  clearTimeout(timer);
  clearInterval(sampler);
  return { exit, stdout, elapsedMs, peakRssKb, child };
}
