import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Effect from 'effect/Effect';
import * as Exit from 'effect/Exit';
import * as Schema from 'effect/Schema';
import { describe, expect, it } from 'vitest';
import { decodeFlags } from '../../cli/flags.ts';
import {
  KAFKA_SECURITY_ENV, KAFKA_SECURITY_SPEC, KafkaSecurityFields, kafkaFailure, parseJaasCredentials, parseProperties, resolveKafkaSecurity, type KafkaSecurityFlags,
} from '../../cli/kafka-flags.ts';
import { UsageError } from '../../cli/errors.ts';

const CA = '-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nMIIBclient\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIEsecretkeymaterial\n-----END PRIVATE KEY-----\n';
const PASSWORD = 'pa55-w0rd-do-not-print';

/** In-memory files and environment for the resolver. */
const sources = (files: Record<string, string>, env: Record<string, string> = {}) => ({
  readFile: (p: string) => {
    const f = files[p];
    if (f === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
    return f;
  },
  env,
});
const resolve = (flags: KafkaSecurityFlags, files: Record<string, string> = {}, env: Record<string, string> = {}) => resolveKafkaSecurity('run', flags, sources(files, env));
const failure = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as UsageError).message;
  }
  throw new Error('expected a UsageError');
};

describe('parseProperties', () => {
  it('reads Java properties: separators, comments, continuations, escapes', () => {
    const p = parseProperties('# comment\n! also\nsecurity.protocol=SASL_SSL\nsasl.mechanism : SCRAM-SHA-512\nssl.truststore.type PEM\nsasl.jaas.config=a \\\n   b\\\\c\\u0041\\=\n\n  spaced.key = v \n');
    expect(Object.fromEntries(p)).toEqual({
      'security.protocol': 'SASL_SSL',
      'sasl.mechanism': 'SCRAM-SHA-512',
      'ssl.truststore.type': 'PEM',
      'sasl.jaas.config': 'a b\\cA=',
      'spaced.key': 'v ',
    });
  });
});

describe('parseJaasCredentials', () => {
  it('takes username and password of a Plain or Scram login module', () => {
    expect(parseJaasCredentials(`org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="p\\"w;x";`)).toEqual({
      module: 'org.apache.kafka.common.security.scram.ScramLoginModule', username: 'alice', password: 'p"w;x',
    });
    expect(parseJaasCredentials('org.apache.kafka.common.security.plain.PlainLoginModule required username=bob password=secret')).toMatchObject({ username: 'bob', password: 'secret' });
  });
  it('says what is wrong without quoting the line', () => {
    const e = parseJaasCredentials(`username="alice" password="${PASSWORD}"`);
    expect(typeof e).toBe('string');
    expect(e).not.toContain(PASSWORD);
  });
});

describe('resolveKafkaSecurity', () => {
  it('is plaintext (undefined) with no security setting', () => {
    expect(resolve({})).toBeUndefined();
  });

  it('flags: CA, client certificate, SCRAM with the password from a file (one trailing newline dropped)', () => {
    const s = resolve(
      { 'kafka-ca': '/ca.pem', 'kafka-cert': '/c.pem', 'kafka-key': '/k.pem', 'kafka-sasl-mechanism': 'scram-sha-512', 'kafka-username': 'retail', 'kafka-password-file': '/pw' },
      { '/ca.pem': CA, '/c.pem': CERT, '/k.pem': KEY, '/pw': `${PASSWORD}\n` },
    );
    expect(s).toEqual({ tls: { ca: CA, cert: CERT, key: KEY }, sasl: { mechanism: 'scram-sha-512', username: 'retail', password: PASSWORD } });
  });

  it('--kafka-tls alone: TLS with the system CAs; KAFKA_PASSWORD from the environment', () => {
    expect(resolve({ 'kafka-tls': true })).toEqual({ tls: true });
    expect(resolve({ 'kafka-tls': true, 'kafka-sasl-mechanism': 'plain', 'kafka-username': 'u' }, {}, { KAFKA_PASSWORD: PASSWORD })).toEqual({
      tls: true, sasl: { mechanism: 'plain', username: 'u', password: PASSWORD },
    });
  });

  it('a Kafka client config file with Kafka property names (PEM truststore and keystore, JAAS)', () => {
    const props = [
      'security.protocol=SASL_SSL',
      'sasl.mechanism=SCRAM-SHA-256',
      `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="retail" password="${PASSWORD}";`,
      'ssl.truststore.type=PEM',
      'ssl.truststore.location=/ca.pem',
      'ssl.keystore.type=PEM',
      'ssl.keystore.location=/ks.pem',
      'client.id=ignored',
    ].join('\n');
    const s = resolve({ 'kafka-config': '/client.properties' }, { '/client.properties': props, '/ca.pem': CA, '/ks.pem': KEY + CERT });
    expect(s).toEqual({ tls: { ca: CA, cert: CERT, key: KEY }, sasl: { mechanism: 'scram-sha-256', username: 'retail', password: PASSWORD } });
  });

  it('flags and the environment win over the config file', () => {
    const props = `security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="from-file";\n`;
    const s = resolve({ 'kafka-config': '/p', 'kafka-sasl-mechanism': 'scram-sha-512', 'kafka-username': 'b' }, { '/p': props }, { KAFKA_PASSWORD: PASSWORD });
    expect(s).toEqual({ tls: true, sasl: { mechanism: 'scram-sha-512', username: 'b', password: PASSWORD } });
  });

  it('SASL_PLAINTEXT from the config file: SASL without TLS', () => {
    const props = 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\nsasl.username=u\nsasl.password=p';
    expect(resolve({ 'kafka-config': '/p' }, { '/p': props })).toEqual({ sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } });
  });

  it('refuses incomplete or unsupported settings with a message naming them, never the password', () => {
    const cases: [KafkaSecurityFlags, Record<string, string>, Record<string, string>, RegExp][] = [
      [{ 'kafka-sasl-mechanism': 'plain', 'kafka-username': 'u' }, {}, {}, /SASL needs a password: KAFKA_PASSWORD, --kafka-password-file/],
      [{ 'kafka-username': 'u' }, {}, { KAFKA_PASSWORD: PASSWORD }, /SASL needs --kafka-sasl-mechanism/],
      [{ 'kafka-sasl-mechanism': 'plain' }, {}, { KAFKA_PASSWORD: PASSWORD }, /SASL needs --kafka-username/],
      [{}, {}, { KAFKA_PASSWORD: PASSWORD }, /a Kafka password is given .* but no --kafka-username/],
      [{ 'kafka-sasl-mechanism': 'plain', 'kafka-username': 'u', 'kafka-password-file': '/pw' }, { '/pw': PASSWORD }, { KAFKA_PASSWORD: PASSWORD }, /the password is given twice/],
      [{ 'kafka-sasl-mechanism': 'plain', 'kafka-username': 'u', 'kafka-password-file': '/pw' }, { '/pw': '\n' }, {}, /--kafka-password-file \/pw: the file is empty/],
      [{ 'kafka-ca': '/missing.pem' }, {}, {}, /--kafka-ca: cannot read \/missing.pem \(ENOENT\)/],
      [{ 'kafka-ca': '/x' }, { '/x': 'not a pem' }, {}, /--kafka-ca \/x: no PEM certificate/],
      [{ 'kafka-cert': '/c' }, { '/c': CERT }, {}, /--kafka-cert and --kafka-key go together/],
      [{ 'kafka-cert': '/c', 'kafka-key': '/k' }, { '/c': CERT, '/k': '-----BEGIN ENCRYPTED PRIVATE KEY-----\nx\n-----END ENCRYPTED PRIVATE KEY-----' }, {}, /the private key is encrypted/],
      [{ 'kafka-config': '/p' }, { '/p': 'sasl.mechanism=GSSAPI' }, {}, /sasl.mechanism GSSAPI is not supported .*Kerberos/],
      [{ 'kafka-config': '/p' }, { '/p': 'sasl.mechanism=OAUTHBEARER' }, {}, /OAUTHBEARER are not/],
      [{ 'kafka-config': '/p' }, { '/p': 'security.protocol=SASL_SSL' }, {}, /SASL needs --kafka-sasl-mechanism/],
      [{ 'kafka-config': '/p' }, { '/p': 'ssl.truststore.location=/t.jks' }, {}, /needs ssl.truststore.type=PEM/],
      [{ 'kafka-config': '/p' }, { '/p': 'ssl.truststore.type=JKS' }, {}, /only PEM/],
      [{ 'kafka-config': '/p' }, { '/p': `ssl.key.password=${PASSWORD}` }, {}, /ssl.key.password: encrypted private keys are not supported/],
      [{ 'kafka-config': '/p' }, { '/p': 'ssl.endpoint.identification.algorithm=' }, {}, /turning off hostname verification is not supported/],
      [{ 'kafka-config': '/p' }, { '/p': 'ssl.foo=1' }, {}, /ssl.foo is not supported/],
      [{ 'kafka-config': '/p' }, { '/p': `sasl.jaas.config=Weird ${PASSWORD}` }, {}, /sasl.jaas.config: expected/],
      [{ 'kafka-config': '/p' }, { '/p': `sasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="${PASSWORD}";` }, {}, /does not fit sasl.mechanism PLAIN/],
    ];
    for (const [flags, files, env, message] of cases) {
      const m = failure(() => resolve(flags, files, env));
      expect(m, JSON.stringify(flags)).toMatch(message);
      expect(m).toMatch(/^run: /);
      expect(m).not.toContain(PASSWORD);
    }
  });
});

describe('the security flags through decodeFlags', () => {
  const Flags = Schema.Struct({ brokers: Schema.String, ...KafkaSecurityFields });
  const decode = (argv: string[], env: Record<string, string> = {}) => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      return Effect.runSyncExit(decodeFlags('run', argv, { brokers: { type: 'string' }, ...KAFKA_SECURITY_SPEC }, Flags, KAFKA_SECURITY_ENV));
    } finally {
      for (const k of Object.keys(env)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  };

  it('takes flags, and the same settings from KAFKA_* environment variables; flags win', () => {
    const exit = decode(['--brokers', 'h:1', '--kafka-tls', '--kafka-sasl-mechanism', 'SCRAM-SHA-512', '--kafka-username', 'flag-user'], { KAFKA_USERNAME: 'env-user', KAFKA_CA: '/ca.pem' });
    expect(Exit.isSuccess(exit)).toBe(true);
    if (Exit.isSuccess(exit))
      expect(exit.value).toEqual({ brokers: 'h:1', 'kafka-tls': true, 'kafka-sasl-mechanism': 'scram-sha-512', 'kafka-username': 'flag-user', 'kafka-ca': '/ca.pem' });
    const env = decode(['--brokers', 'h:1'], { KAFKA_TLS: 'true', KAFKA_SASL_MECHANISM: 'plain' });
    expect(Exit.isSuccess(env) && env.value).toEqual({ brokers: 'h:1', 'kafka-tls': true, 'kafka-sasl-mechanism': 'plain' });
  });

  it('has no password flag, and refuses an unknown mechanism', () => {
    const pw = decode(['--brokers', 'h:1', '--kafka-password', PASSWORD]);
    expect(Exit.isFailure(pw)).toBe(true);
    expect(JSON.stringify(pw)).not.toContain(PASSWORD);
    const mech = decode(['--brokers', 'h:1', '--kafka-sasl-mechanism', 'gssapi']);
    expect(JSON.stringify(mech)).toMatch(/expected plain, scram-sha-256 or scram-sha-512, got \\"gssapi\\"/);
  });
});

describe('kafkaFailure', () => {
  const security = { tls: { ca: CA, key: KEY, cert: CERT }, sasl: { mechanism: 'scram-sha-512' as const, username: 'retail', password: PASSWORD } };
  it('names a security refusal (AccessError, exit 6) with the redacted settings, never the secrets', () => {
    const e = kafkaFailure('run', Object.assign(new Error(`SASL SCRAM SHA512 authentication failed: bad`), { name: 'KafkaJSSASLAuthenticationError' }), security);
    expect(e._tag).toBe('AccessError');
    expect(e.message).toMatch(/^run: Kafka refused the connection: authentication failed/);
    expect(e.message).toContain('SCRAM-SHA-512 as user "retail", password set');
    expect(e.message).not.toContain(PASSWORD);
    expect(e.message).not.toContain('secretkeymaterial');
  });
  it('masks a secret a client error echoed', () => {
    const e = kafkaFailure('simulate', new Error(`connection reset while sending ${PASSWORD}`), security);
    expect(e._tag).toBe('BrokerError');
    expect(e.message).toBe('simulate: connection reset while sending ***');
  });
});

describe('real files', () => {
  it('reads the password file and the config file from disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rs-sec-'));
    writeFileSync(join(dir, 'pw'), `${PASSWORD}\r\n`);
    writeFileSync(join(dir, 'ca.pem'), CA);
    const s = resolveKafkaSecurity(
      'watch',
      { 'kafka-ca': join(dir, 'ca.pem'), 'kafka-sasl-mechanism': 'plain', 'kafka-username': 'u', 'kafka-password-file': join(dir, 'pw') },
      { readFile: (p) => readFileSync(p, 'utf8'), env: {} },
    );
    expect(s?.sasl?.password).toBe(PASSWORD);
    expect(s?.tls).toEqual({ ca: CA });
  });
});
