// Secure connections and least privilege against a real broker (`kafka.sh start-secure`): SASL_SSL
// only, a CA made for the run, SCRAM users, StandardAuthorizer with no access without an ACL.
// The pipeline runs as a user that has exactly the ACLs the README lists, granted with Kafka's
// own kafka-acls tool as the super user; wrong credentials, an unknown CA and a missing ACL each
// stop `run` fast with the cause named; no output ever holds a password.
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { startKafka, type KafkaCluster, type SecureCluster } from '../support/kafka.ts';
import { runCli, startCli, type CliProcess } from '../support/cli.ts';
import { expectExact } from '../support/kpi-check.ts';
import { makeTestTls } from '../support/tls.ts';
import { kafkajsSecurity, type KafkaSecurity } from '../../topology/runtimes/kafka/security.ts';

const WINDOW = 60_000;
const GRACE = 120_000;

let kafka: KafkaCluster;
let sec: SecureCluster;
let brokers: string;
let adminSecurity: KafkaSecurity;
/** Every output of every CLI process of this file, checked for the passwords at the end. */
const outputs: { what: string; text: string }[] = [];

beforeAll(async () => {
  kafka = await startKafka({ secure: true });
  sec = kafka.secure!;
  brokers = kafka.bootstrap.join(',');
  adminSecurity = { tls: { ca: sec.ca }, sasl: { mechanism: 'scram-sha-512', username: sec.admin.username, password: sec.admin.password } };
}, 600_000);
afterAll(async () => {
  await kafka?.stop();
});

/**
 * The ACLs of the README's Security section for application id `group` reading `input`, as
 * kafka-acls arguments (`--bootstrap-server` and the admin's `--command-config` come from kafka.sh).
 * `omit` leaves one out, for the missing-ACL case.
 */
function aclCommands(user: string, group: string, input: string, o: { exactlyOnce: boolean; inputOps?: readonly string[] }): string[][] {
  const p = ['--add', '--allow-principal', `User:${user}`];
  const ops = (...names: string[]) => names.flatMap((n) => ['--operation', n]);
  const cmds = [
    [...p, ...ops(...(o.inputOps ?? ['Read', 'Describe'])), '--topic', input],
    [...p, ...ops('Write', 'Describe', 'Create'), '--topic', 'kpi-time', '--topic', 'kpi-time-country', '--topic', 'invoices-dead-letter', '--topic', 'invoices-late'],
    [...p, ...ops('Read', 'Write', 'Describe', 'Create', 'Delete'), '--resource-pattern-type', 'prefixed', '--topic', `${group}-`],
    [...p, ...ops('Read', 'Describe'), '--group', group],
    [...p, ...ops('Read', 'Describe', 'Delete'), '--resource-pattern-type', 'prefixed', '--group', `${group}-restore-`],
  ];
  if (o.exactlyOnce) cmds.push([...p, ...ops('Write', 'Describe'), '--resource-pattern-type', 'prefixed', '--transactional-id', `${group}-`]);
  return cmds;
}

async function grant(cmds: readonly string[][]): Promise<void> {
  for (const c of cmds) await kafka.tool('acls', c);
}

/** Creates a topic as the super user (the application's user may only read its input). */
async function createTopic(topic: string, partitions: number): Promise<void> {
  const admin = new Kafka({ clientId: 'test', brokers: kafka.bootstrap, ...kafkajsSecurity(adminSecurity), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

const record = (what: string, r: { output: string } | CliProcess) => {
  outputs.push({ what, text: 'proc' in r ? r.output() : r.output });
};

/** simulate as the super user, from its Kafka client config file (--kafka-config). */
async function simulate(topic: string, count: number, seed: number, start: number): Promise<void> {
  const r = await runCli([
    'simulate', '--brokers', brokers, '--kafka-config', sec.admin.propertiesFile, '--topic', topic, '--rate', '0', '--count', String(count), '--partitions', '4',
    '--seed', String(seed), '--start', new Date(start).toISOString(), '--event-rate', '10', '--grace', '2m', '--late-ratio', '0.01', '--bad-ratio', '0.005', '--out-of-order-ratio', '0.05',
  ]);
  record(`simulate ${topic}`, r);
  expect(r.code, r.output).toBe(0);
}

const runArgs = (topic: string, group: string, sink: string, extra: readonly string[] = []) => [
  // Exactly-once runs keep idle partitions in the watermark (as the other exactly-once tests): a
  // task whose start waits for stable offsets must not count as idle and let windows close early.
  'run', '--brokers', brokers, '--input', topic, '--group', group, '--sink', sink, '--window', '1m', '--grace', '2m', '--idle', extra.includes('exactly-once') ? '30m' : '2s', ...extra,
];

/** The application user's settings as flags: CA file, SCRAM-SHA-512, the password from a file. */
const appFlags = () => ['--kafka-ca', sec.caFile, '--kafka-sasl-mechanism', 'scram-sha-512', '--kafka-username', sec.app.username, '--kafka-password-file', sec.app.passwordFile];

/** The same settings from environment variables only. */
const appEnv = () => ({ KAFKA_CA: sec.caFile, KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_USERNAME: sec.app.username, KAFKA_PASSWORD: sec.app.password });

async function runToExactKpis(topic: string, group: string, start: number, seed: number, extra: readonly string[], env: Record<string, string>): Promise<void> {
  const sink = await mkdtemp(join(tmpdir(), `rs-${group}-`));
  await createTopic(topic, 4);
  await simulate(topic, 4000, seed, start);
  const p = startCli(runArgs(topic, group, sink, extra), env);
  try {
    await p.waitFor(new RegExp(`joined group ${group}`), 120_000);
    await expectExact(kafka.bootstrap, topic, sink, WINDOW, GRACE, adminSecurity);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- run output:\n${p.output().slice(-6000)}`, { cause: e });
  } finally {
    const code = await p.stop();
    record(`run ${group}`, p);
    expect(code, p.output().slice(-3000)).toBe(0);
  }
  // The redacted form is logged, never the password.
  expect(p.output()).toMatch(/Kafka security: SASL_SSL; SCRAM-SHA-512 as user "retail", password set; TLS with a custom CA/);
}

/** A CA of its own, unrelated to the broker's: its certificate cannot be verified with it. */
const otherCa = async (): Promise<string> => makeTestTls().caFile;

/** `run` must give up within this: no retries for a refusal (the broker answers at once). */
const FAST_MS = 45_000;

async function expectRefused(what: string, args: readonly string[], env: Record<string, string>, cause: RegExp): Promise<string> {
  const t0 = Date.now();
  const p = startCli(args, env);
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), 120_000);
  const code = await p.exited;
  clearTimeout(timer);
  record(what, p);
  const out = p.output();
  expect(code, out.slice(-3000)).not.toBe(0);
  expect(code, out.slice(-3000)).not.toBeNull();
  expect(Date.now() - t0, out.slice(-3000)).toBeLessThan(FAST_MS);
  expect(out).toMatch(cause);
  return out;
}

describe('secured Kafka: SASL_SSL, SCRAM, ACLs', () => {
  it('runs at-least-once as a user with only the listed ACLs (flags, password from a file, a client certificate) and gets exactly the reference KPIs', async () => {
    await grant(aclCommands(sec.app.username, 'sec-alos', 'sec-in-alos', { exactlyOnce: false }));
    await runToExactKpis('sec-in-alos', 'sec-alos', Date.UTC(2020, 8, 18, 10), 7, ['--client', 'kafkajs', ...appFlags(), '--kafka-cert', sec.clientCertFile, '--kafka-key', sec.clientKeyFile], {});
  });

  it('watch reads the KPI topics over SASL_SSL with Read on them and its groups', async () => {
    const p = ['--add', '--allow-principal', `User:${sec.app.username}`];
    await grant([
      [...p, '--operation', 'Read', '--topic', 'kpi-time', '--topic', 'kpi-time-country'],
      [...p, '--operation', 'Read', '--resource-pattern-type', 'prefixed', '--group', 'watch-'],
    ]);
    const w = startCli(['watch', '--brokers', brokers, '--every', '1s', '--kafka-config', sec.app.propertiesFile]);
    try {
      await w.waitFor(/2020-09-18 10:0\d +\d+/, 60_000);
    } finally {
      await w.stop();
      record('watch', w);
    }
  });

  it('watch refused (a wrong password, an unknown CA, no Read on the KPI topics) fails fast, naming the cause', async () => {
    const wrong = `wrong-${sec.app.password.slice(0, 4)}-x9`;
    const out = await expectRefused('watch wrong password', ['watch', '--brokers', brokers], { ...appEnv(), KAFKA_PASSWORD: wrong }, /retail-streams: watch: Kafka refused the connection: authentication failed/);
    expect(out).not.toContain(wrong);
    await expectRefused('watch unknown CA', ['watch', '--brokers', brokers], { ...appEnv(), KAFKA_CA: await otherCa() }, /retail-streams: watch: Kafka refused the connection: TLS certificate not trusted/);
    // Topics it may see (Describe) but not read: the first fetch is refused, and watch ends.
    const prefix = 'sec-noread-';
    for (const t of ['kpi-time', 'kpi-time-country']) await createTopic(`${prefix}${t}`, 1);
    const p = ['--add', '--allow-principal', `User:${sec.app.username}`];
    await grant([
      [...p, '--operation', 'Describe', '--topic', `${prefix}kpi-time`, '--topic', `${prefix}kpi-time-country`],
      [...p, '--operation', 'Read', '--resource-pattern-type', 'prefixed', '--group', 'watch-'],
    ]);
    await expectRefused('watch no Read', ['watch', '--brokers', brokers, '--topic-prefix', prefix, ...appFlags()], {}, /retail-streams: watch: Kafka refused the connection: authorization failed \(TOPIC_AUTHORIZATION_FAILED\)/);
  });

  it('runs exactly-once (the default client, v2) as that user (settings from the environment) and gets exactly the reference KPIs', async () => {
    await grant(aclCommands(sec.app.username, 'sec-eos', 'sec-in-eos', { exactlyOnce: true }));
    await runToExactKpis('sec-in-eos', 'sec-eos', Date.UTC(2020, 8, 19, 10), 11, ['--guarantee', 'exactly-once'], appEnv());
  });

  it('runs at-least-once through the @platformatic/kafka adapter too (settings from --kafka-config)', async () => {
    await grant(aclCommands(sec.app.username, 'sec-plt', 'sec-in-plt', { exactlyOnce: false }));
    await runToExactKpis('sec-in-plt', 'sec-plt', Date.UTC(2020, 8, 20, 10), 13, ['--client', 'platformatic', '--kafka-config', sec.app.propertiesFile], {});
  });

  it('a wrong password fails fast, naming authentication', async () => {
    const sink = await mkdtemp(join(tmpdir(), 'rs-sec-badpw-'));
    const wrong = `wrong-${sec.app.password.slice(0, 4)}-x9`;
    const out = await expectRefused('run wrong password', runArgs('sec-in-alos', 'sec-alos', sink), { ...appEnv(), KAFKA_PASSWORD: wrong }, /authentication failed/i);
    expect(out).not.toContain(wrong);
    // simulate too
    const pw = await writeFile(join(sink, 'pw'), wrong).then(() => join(sink, 'pw'));
    const s = await runCli(['simulate', '--brokers', brokers, '--topic', 'sec-in-alos', '--count', '1', ...appFlags().slice(0, -1), pw]);
    record('simulate wrong password', s);
    expect(s.code).not.toBe(0);
    expect(s.output).toMatch(/authentication failed/i);
    expect(s.output).not.toContain(wrong);
  });

  it('an unknown CA fails fast, naming the untrusted certificate', async () => {
    const sink = await mkdtemp(join(tmpdir(), 'rs-sec-ca-'));
    await expectRefused('run unknown CA', runArgs('sec-in-alos', 'sec-alos', sink), { ...appEnv(), KAFKA_CA: await otherCa() }, /TLS certificate not trusted/);
    // The system CAs do not know the test CA either.
    const env: Record<string, string> = { ...appEnv(), KAFKA_TLS: 'true' };
    delete env.KAFKA_CA;
    await expectRefused('run system CAs', runArgs('sec-in-alos', 'sec-alos', sink), env, /TLS certificate not trusted/);
  });

  it.each(['kafkajs', 'platformatic'])('a missing ACL (no READ on the input topic) fails fast, naming the authorization (%s)', async (client) => {
    const topic = `sec-in-noread-${client}`;
    const group = `sec-noread-${client}`;
    await createTopic(topic, 2);
    await grant(aclCommands(sec.app.username, group, topic, { exactlyOnce: false, inputOps: ['Describe'] }));
    const sink = await mkdtemp(join(tmpdir(), 'rs-sec-acl-'));
    const out = await expectRefused(`run missing READ ${client}`, runArgs(topic, group, sink, ['--client', client, ...appFlags()]), {}, /authorization failed \(TOPIC_AUTHORIZATION_FAILED\)/);
    // the settings it ran with, redacted
    expect(out).toMatch(/\[SASL_SSL; SCRAM-SHA-512 as user "retail", password set; TLS with a custom CA \(1 certificate\)\]/);
  });

  it('bad security settings are refused before connecting (exit 2), without echoing a password', async () => {
    const r = await runCli(['run', '--brokers', brokers, '--kafka-sasl-mechanism', 'scram-sha-512', '--kafka-username', 'retail'], {});
    record('run no password', r);
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/SASL needs a password: KAFKA_PASSWORD, --kafka-password-file/);
    const flag = await runCli(['run', '--brokers', brokers, '--kafka-password', sec.app.password], {});
    record('run --kafka-password', flag);
    expect(flag.code).toBe(2);
  });

  it('no output of any command holds a password or the client key', () => {
    expect(outputs.length).toBeGreaterThan(5);
    const key = readFileSync(sec.clientKeyFile, 'utf8').split('\n').filter((l) => l.length > 40)[1]!;
    for (const { what, text } of outputs) {
      expect(text.includes(key), `${what} printed the client key`).toBe(false);
      expect(text.includes(sec.app.password), `${what} printed the application password`).toBe(false);
      expect(text.includes(sec.admin.password), `${what} printed the admin password`).toBe(false);
    }
  });
});
