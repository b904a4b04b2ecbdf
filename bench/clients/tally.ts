/**
 * What every consume-only client script shares: its arguments, and the count of what arrived,
 * printed as `done <records> <ms since process start> <ms at the first record> <value bytes>`
 * (bench/run.ts reads that line) once `expected` records have arrived, then the exit.
 */
export function consumeArgs(script: string, usagePrefix = ''): { broker: string; topic: string; group: string; expected: number } {
  const [broker, topic, group, expected] = process.argv.slice(2);
  if (broker === undefined || topic === undefined || group === undefined || expected === undefined) {
    process.stderr.write(`usage: ${usagePrefix}${script} BROKER TOPIC GROUP EXPECTED\n`);
    process.exit(2);
  }
  return { broker, topic, group, expected: Number(expected) };
}

export class Tally {
  private records = 0;
  private bytes = 0;
  private first = 0;
  private readonly expected: number;
  constructor(expected: number) {
    this.expected = expected;
  }

  /** One record of `valueBytes`. */
  record(valueBytes: number): void {
    if (this.records === 0) this.first = performance.now();
    this.records++;
    this.bytes += valueBytes;
    if (this.records === this.expected) this.done();
  }

  /** A batch of records. */
  batch(messages: readonly { readonly value?: Buffer | null }[]): void {
    if (this.records === 0) this.first = performance.now();
    this.records += messages.length;
    for (const m of messages) this.bytes += m.value?.length ?? 0;
    if (this.records >= this.expected) this.done();
  }

  private done(): void {
    process.stdout.write(`done ${this.records} ${Math.round(performance.now())} ${Math.round(this.first)} ${this.bytes}\n`, () => process.exit(0));
  }
}
