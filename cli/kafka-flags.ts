import { readFileSync } from 'node:fs';
import * as Effect from 'effect/Effect';
import * as Schema from 'effect/Schema';
import { AccessError, BrokerError, UsageError } from './errors.ts';
import { describeKafkaSecurity, kafkaSecrets, kafkaSecurityError, type KafkaSecurity, type SaslMechanism } from '../topology/runtimes/kafka/security.ts';

/** `host:port[,host:port...]`, validated once for every command that talks to Kafka. */
export const Brokers = Schema.String.pipe(
  Schema.filter((s) => s.split(',').every((b) => /^[^\s:,]+:\d{1,5}$/.test(b.trim())) || `expected host:port[,host:port...], got "${s}"`),
  Schema.transform(Schema.Array(Schema.String), { strict: true, decode: (s) => s.split(',').map((b) => b.trim()), encode: (a) => a.join(',') }),
);

// ------------------------------------------------------------------ TLS and SASL

/**
 * The security flags every command that talks to Kafka takes (`run`, `simulate`, `watch`), each
 * with its environment variable. The password is never a flag: `KAFKA_PASSWORD`, or a file
 * (`--kafka-password-file`, `KAFKA_PASSWORD_FILE`), or the config file's `sasl.jaas.config`.
 */
export const KAFKA_SECURITY_ENV = {
  'kafka-config': 'KAFKA_CONFIG',
  'kafka-tls': 'KAFKA_TLS',
  'kafka-ca': 'KAFKA_CA',
  'kafka-cert': 'KAFKA_CERT',
  'kafka-key': 'KAFKA_KEY',
  'kafka-sasl-mechanism': 'KAFKA_SASL_MECHANISM',
  'kafka-username': 'KAFKA_USERNAME',
  'kafka-password-file': 'KAFKA_PASSWORD_FILE',
} as const;

/** parseArgs options of the security flags (`--kafka-tls` takes no value). */
export const KAFKA_SECURITY_SPEC = {
  'kafka-config': { type: 'string' },
  'kafka-tls': { type: 'boolean' },
  'kafka-ca': { type: 'string' },
  'kafka-cert': { type: 'string' },
  'kafka-key': { type: 'string' },
  'kafka-sasl-mechanism': { type: 'string' },
  'kafka-username': { type: 'string' },
  'kafka-password-file': { type: 'string' },
} as const;

const FilePath = Schema.String.pipe(Schema.minLength(1, { message: () => 'expected a file path' }));
const Mechanism = Schema.transform(
  Schema.String.pipe(
    Schema.filter((s) => ['plain', 'scram-sha-256', 'scram-sha-512'].includes(s.toLowerCase()) || `expected plain, scram-sha-256 or scram-sha-512, got "${s}" (GSSAPI/Kerberos and OAUTHBEARER are not supported)`),
  ),
  Schema.Literal('plain', 'scram-sha-256', 'scram-sha-512'),
  { strict: false, decode: (s) => s.toLowerCase(), encode: (s) => s },
);
const Flag = Schema.Union(
  Schema.Boolean,
  Schema.transform(Schema.Literal('true', 'false', '1', '0', 'yes', 'no'), Schema.Boolean, { strict: true, decode: (s) => s === 'true' || s === '1' || s === 'yes', encode: (b) => (b ? 'true' : 'false') }),
);

/** The security fields of a command's flag schema (spread into its `Schema.Struct`). */
export const KafkaSecurityFields = {
  /** A Kafka client properties file (security.protocol, sasl.*, ssl.* with PEM files). */
  'kafka-config': Schema.optionalWith(FilePath, { exact: true }),
  /** TLS with the system CAs (implied by --kafka-ca, --kafka-cert, --kafka-key). */
  'kafka-tls': Schema.optionalWith(Flag, { exact: true }),
  'kafka-ca': Schema.optionalWith(FilePath, { exact: true }),
  'kafka-cert': Schema.optionalWith(FilePath, { exact: true }),
  'kafka-key': Schema.optionalWith(FilePath, { exact: true }),
  'kafka-sasl-mechanism': Schema.optionalWith(Mechanism, { exact: true }),
  'kafka-username': Schema.optionalWith(Schema.String.pipe(Schema.minLength(1, { message: () => 'expected a user name' })), { exact: true }),
  'kafka-password-file': Schema.optionalWith(FilePath, { exact: true }),
};

export type KafkaSecurityFlags = { readonly [K in keyof typeof KafkaSecurityFields]?: Schema.Schema.Type<(typeof KafkaSecurityFields)[K]> };

/** Java `.properties` text: `key=value`, `key: value` or `key value`, `#`/`!` comments, `\` continuations and escapes. */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.replace(/^[ \t\f]+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    // an odd number of trailing backslashes continues the line
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i]!.replace(/^[ \t\f]+/, '');
    let k = 0;
    let key = '';
    for (; k < line.length; k++) {
      const c = line[k]!;
      if (c === '\\' && k + 1 < line.length) {
        key += unescapeChar(line, k);
        k += escapeLength(line, k) - 1;
        continue;
      }
      if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break;
      key += c;
    }
    let rest = line.slice(k).replace(/^[ \t\f]*/, '');
    if (rest.startsWith('=') || rest.startsWith(':')) rest = rest.slice(1).replace(/^[ \t\f]*/, '');
    let value = '';
    for (let j = 0; j < rest.length; j++) {
      if (rest[j] === '\\' && j + 1 < rest.length) {
        value += unescapeChar(rest, j);
        j += escapeLength(rest, j) - 1;
      } else value += rest[j];
    }
    out.set(key, value);
  }
  return out;
}
const escapeLength = (s: string, i: number): number => (s[i + 1] === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6)) ? 6 : 2);
const unescapeChar = (s: string, i: number): string => {
  const c = s[i + 1]!;
  if (c === 'u' && escapeLength(s, i) === 6) return String.fromCharCode(Number.parseInt(s.slice(i + 2, i + 6), 16));
  return ({ n: '\n', t: '\t', r: '\r', f: '\f' } as Record<string, string>)[c] ?? c;
};

/**
 * `username="..." password="..."` of a `sasl.jaas.config` line (PlainLoginModule or
 * ScramLoginModule). Errors never quote the value: it holds the password.
 */
export function parseJaasCredentials(jaas: string): { username?: string; password?: string; module: string } | string {
  const m = /^\s*([\w.$]+)\s+(required|requisite|sufficient|optional)\b([\s\S]*?);?\s*$/.exec(jaas);
  if (m === null) return 'sasl.jaas.config: expected "<LoginModule> required username=\\"...\\" password=\\"...\\";"';
  const module = m[1]!;
  const opts: Record<string, string> = {};
  const re = /\s*([\w.]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s";]+))/gy;
  const body = m[3]!.replace(/;\s*$/, '');
  let pos = 0;
  while (pos < body.length && body.slice(pos).trim() !== '') {
    re.lastIndex = pos;
    const o = re.exec(body);
    if (o === null) return `sasl.jaas.config: cannot read the options of ${module} (expected key="value" pairs)`;
    opts[o[1]!] = o[2] !== undefined ? o[2].replace(/\\(.)/g, '$1') : o[3]!;
    pos = re.lastIndex;
  }
  return { module, ...(opts.username === undefined ? {} : { username: opts.username }), ...(opts.password === undefined ? {} : { password: opts.password }) };
}

/** Settings read from a `--kafka-config` file, before the flags and environment override them. */
interface FileSettings {
  protocol?: 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
  mechanism?: SaslMechanism;
  username?: string;
  password?: string;
  caFile?: string;
  caPem?: string;
  certFile?: string;
  certPem?: string;
  keyFile?: string;
  keyPem?: string;
  /** a PEM keystore file: the private key and the certificate chain in one file */
  keystoreFile?: string;
}

/** Security keys of a Kafka client config that are deliberately not supported, and why. */
const UNSUPPORTED_KEYS: Readonly<Record<string, string>> = {
  'ssl.truststore.password': 'PEM truststores have no password (ssl.truststore.type=PEM)',
  'ssl.keystore.password': 'PEM keystores take an unencrypted PKCS#8 key (ssl.keystore.type=PEM)',
  'ssl.key.password': 'encrypted private keys are not supported: decrypt it (openssl pkcs8 -in key.pem -out plain.pem)',
  'sasl.kerberos.service.name': 'Kerberos (GSSAPI) is not supported',
  'sasl.login.callback.handler.class': 'OAUTHBEARER and custom login handlers are not supported',
  'sasl.oauthbearer.token.endpoint.url': 'OAUTHBEARER is not supported',
};
/** Keys that are read; any other `ssl.*`/`sasl.*`/`security.*` key is refused, the rest ignored. */
const KNOWN_KEYS = new Set([
  'security.protocol', 'sasl.mechanism', 'sasl.jaas.config', 'sasl.username', 'sasl.password',
  'ssl.truststore.type', 'ssl.truststore.location', 'ssl.truststore.certificates',
  'ssl.keystore.type', 'ssl.keystore.location', 'ssl.keystore.certificate.chain', 'ssl.keystore.key',
  'ssl.ca.location', 'ssl.certificate.location', 'ssl.key.location',
  'ssl.endpoint.identification.algorithm', 'ssl.protocol', 'ssl.enabled.protocols',
]);

function readConfigFile(file: string, props: ReadonlyMap<string, string>): FileSettings | string {
  const where = `--kafka-config ${file}`;
  const s: FileSettings = {};
  for (const [k, v] of props) {
    if (UNSUPPORTED_KEYS[k] !== undefined) return `${where}: ${k}: ${UNSUPPORTED_KEYS[k]}`;
    if (/^(ssl|sasl|security)\./.test(k) && !KNOWN_KEYS.has(k)) return `${where}: ${k} is not supported (supported: ${[...KNOWN_KEYS].join(', ')})`;
    if (v === '' && k !== 'ssl.endpoint.identification.algorithm') return `${where}: ${k} is empty`;
  }
  const protocol = props.get('security.protocol');
  if (protocol !== undefined) {
    const p = protocol.toUpperCase();
    if (p !== 'PLAINTEXT' && p !== 'SSL' && p !== 'SASL_PLAINTEXT' && p !== 'SASL_SSL') return `${where}: security.protocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, got "${protocol}"`;
    s.protocol = p;
  }
  const mechanism = props.get('sasl.mechanism');
  if (mechanism !== undefined) {
    const m = mechanism.toLowerCase();
    if (m !== 'plain' && m !== 'scram-sha-256' && m !== 'scram-sha-512')
      return `${where}: sasl.mechanism ${mechanism} is not supported (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; GSSAPI/Kerberos and OAUTHBEARER are not)`;
    s.mechanism = m;
  }
  const jaas = props.get('sasl.jaas.config');
  if (jaas !== undefined) {
    const c = parseJaasCredentials(jaas);
    if (typeof c === 'string') return `${where}: ${c}`;
    const expected = s.mechanism === 'plain' ? /PlainLoginModule$/ : s.mechanism === undefined ? /(Plain|Scram)LoginModule$/ : /ScramLoginModule$/;
    if (!expected.test(c.module)) return `${where}: sasl.jaas.config uses ${c.module}, which does not fit sasl.mechanism ${s.mechanism?.toUpperCase() ?? '(unset)'} (PlainLoginModule for PLAIN, ScramLoginModule for SCRAM)`;
    if (c.username !== undefined) s.username = c.username;
    if (c.password !== undefined) s.password = c.password;
  }
  if (props.has('sasl.username')) s.username = props.get('sasl.username')!;
  if (props.has('sasl.password')) s.password = props.get('sasl.password')!;
  for (const t of ['ssl.truststore.type', 'ssl.keystore.type'] as const) {
    const v = props.get(t);
    if (v !== undefined && v.toUpperCase() !== 'PEM') return `${where}: ${t}=${v} is not supported: only PEM (convert a JKS or PKCS12 store with keytool/openssl)`;
  }
  if (props.has('ssl.truststore.location') && props.get('ssl.truststore.type')?.toUpperCase() !== 'PEM')
    return `${where}: ssl.truststore.location needs ssl.truststore.type=PEM (JKS and PKCS12 truststores are not supported)`;
  if (props.has('ssl.keystore.location') && props.get('ssl.keystore.type')?.toUpperCase() !== 'PEM')
    return `${where}: ssl.keystore.location needs ssl.keystore.type=PEM (JKS and PKCS12 keystores are not supported)`;
  const eia = props.get('ssl.endpoint.identification.algorithm');
  if (eia !== undefined && eia.toLowerCase() !== 'https') return `${where}: ssl.endpoint.identification.algorithm must be https: turning off hostname verification is not supported`;
  const set = <K extends keyof FileSettings>(key: K, prop: string) => {
    const v = props.get(prop);
    if (v !== undefined) s[key] = v as FileSettings[K];
  };
  set('caFile', 'ssl.truststore.location');
  set('caFile', 'ssl.ca.location');
  set('caPem', 'ssl.truststore.certificates');
  set('keystoreFile', 'ssl.keystore.location');
  set('certPem', 'ssl.keystore.certificate.chain');
  set('keyPem', 'ssl.keystore.key');
  set('certFile', 'ssl.certificate.location');
  set('keyFile', 'ssl.key.location');
  return s;
}

const CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const KEY_RE = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC )?PRIVATE KEY-----/;

/** The certificates of PEM text, or an error; what is read is never quoted back. */
function certificatesOf(text: string, what: string): string | { error: string } {
  const certs = text.match(CERT_RE);
  if (certs === null) return { error: `${what}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)` };
  return certs.join('\n') + '\n';
}
function keyOf(text: string, what: string): string | { error: string } {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(text)) return { error: `${what}: the private key is encrypted, which is not supported: decrypt it (openssl pkcs8 -in key.pem -out plain.pem)` };
  const key = KEY_RE.exec(text);
  if (key === null) return { error: `${what}: no PEM private key in it (expected -----BEGIN PRIVATE KEY-----)` };
  return key[0] + '\n';
}

/** What the resolver reads: files and environment variables, injected so tests need neither. */
export interface SecuritySources {
  readonly readFile: (path: string) => string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * The TLS and SASL settings of a command: its security flags (environment variables already
 * folded in by `decodeFlags`, flags winning), the password from `KAFKA_PASSWORD` or a password
 * file, and a `--kafka-config` file under both. Undefined means plaintext. Every file is read
 * here, once; an error names the flag or property at fault, never a secret.
 */
export function resolveKafkaSecurity(command: string, flags: KafkaSecurityFlags, sources: SecuritySources): KafkaSecurity | undefined {
  const fail = (message: string): never => {
    throw new UsageError({ message: `${command}: ${message}` });
  };
  const read = (path: string, what: string): string => {
    try {
      return sources.readFile(path);
    } catch (e) {
      const code = (e as { code?: string }).code;
      return fail(`${what}: cannot read ${path}${code === undefined ? '' : ` (${code})`}`);
    }
  };
  const ok = (v: string | { error: string }): string => (typeof v === 'string' ? v : fail(v.error));
  let file: FileSettings = {};
  if (flags['kafka-config'] !== undefined) {
    const r = readConfigFile(flags['kafka-config'], parseProperties(read(flags['kafka-config'], '--kafka-config')));
    file = typeof r === 'string' ? fail(r) : r;
  }
  // TLS: on when asked for (flag, environment, security.protocol) or when a CA/certificate/key is given.
  let ca: string | undefined;
  if (flags['kafka-ca'] !== undefined) ca = ok(certificatesOf(read(flags['kafka-ca'], '--kafka-ca'), `--kafka-ca ${flags['kafka-ca']}`));
  else if (file.caFile !== undefined) ca = ok(certificatesOf(read(file.caFile, 'ssl.truststore.location'), `ssl.truststore.location ${file.caFile}`));
  else if (file.caPem !== undefined) ca = ok(certificatesOf(file.caPem, 'ssl.truststore.certificates'));
  let cert: string | undefined;
  let key: string | undefined;
  if (flags['kafka-cert'] !== undefined || flags['kafka-key'] !== undefined) {
    if (flags['kafka-cert'] === undefined || flags['kafka-key'] === undefined) fail('--kafka-cert and --kafka-key go together (a client certificate and its private key)');
    cert = ok(certificatesOf(read(flags['kafka-cert']!, '--kafka-cert'), `--kafka-cert ${flags['kafka-cert']}`));
    key = ok(keyOf(read(flags['kafka-key']!, '--kafka-key'), `--kafka-key ${flags['kafka-key']}`));
  } else if (file.keystoreFile !== undefined) {
    const text = read(file.keystoreFile, 'ssl.keystore.location');
    cert = ok(certificatesOf(text, `ssl.keystore.location ${file.keystoreFile}`));
    key = ok(keyOf(text, `ssl.keystore.location ${file.keystoreFile}`));
  } else if (file.certPem !== undefined || file.keyPem !== undefined || file.certFile !== undefined || file.keyFile !== undefined) {
    const c = file.certPem ?? (file.certFile === undefined ? undefined : read(file.certFile, 'ssl.certificate.location'));
    const k = file.keyPem ?? (file.keyFile === undefined ? undefined : read(file.keyFile, 'ssl.key.location'));
    if (c === undefined || k === undefined) fail(`--kafka-config ${flags['kafka-config']}: a client certificate needs both its certificate chain and its private key`);
    cert = ok(certificatesOf(c!, 'the client certificate (--kafka-config)'));
    key = ok(keyOf(k!, 'the client private key (--kafka-config)'));
  }
  const tlsOn =
    flags['kafka-tls'] === true ||
    ca !== undefined ||
    cert !== undefined ||
    (flags['kafka-tls'] === undefined && (file.protocol === 'SSL' || file.protocol === 'SASL_SSL'));
  if (flags['kafka-tls'] === false && (ca !== undefined || cert !== undefined)) fail('KAFKA_TLS=false contradicts the CA or client certificate given');
  // SASL: on when a mechanism or user is given, or security.protocol says SASL_*.
  const mechanism = flags['kafka-sasl-mechanism'] ?? file.mechanism;
  const username = flags['kafka-username'] ?? file.username;
  const envPassword = sources.env.KAFKA_PASSWORD;
  let password: string | undefined;
  if (envPassword !== undefined && envPassword !== '' && flags['kafka-password-file'] !== undefined)
    fail('the password is given twice (KAFKA_PASSWORD and --kafka-password-file or KAFKA_PASSWORD_FILE): give it once');
  if (flags['kafka-password-file'] !== undefined) {
    password = read(flags['kafka-password-file'], '--kafka-password-file').replace(/\r?\n$/, '');
    if (password === '') fail(`--kafka-password-file ${flags['kafka-password-file']}: the file is empty`);
  } else if (envPassword !== undefined && envPassword !== '') password = envPassword;
  else password = file.password;
  const saslOn = mechanism !== undefined || username !== undefined || file.protocol === 'SASL_PLAINTEXT' || file.protocol === 'SASL_SSL';
  if (!saslOn && password !== undefined && (flags['kafka-password-file'] !== undefined || (envPassword ?? '') !== ''))
    fail('a Kafka password is given (KAFKA_PASSWORD or --kafka-password-file) but no --kafka-username and --kafka-sasl-mechanism');
  let sasl: KafkaSecurity['sasl'];
  if (saslOn) {
    if (mechanism === undefined) fail('SASL needs --kafka-sasl-mechanism plain|scram-sha-256|scram-sha-512 (or KAFKA_SASL_MECHANISM, or sasl.mechanism; GSSAPI/Kerberos is not supported)');
    if (username === undefined) fail('SASL needs --kafka-username (or KAFKA_USERNAME, or the config file\'s sasl.jaas.config)');
    if (password === undefined || password === '')
      fail('SASL needs a password: KAFKA_PASSWORD, --kafka-password-file FILE (or KAFKA_PASSWORD_FILE), or the config file\'s sasl.jaas.config; never a flag');
    sasl = { mechanism: mechanism!, username: username!, password: password! };
  }
  if (!tlsOn && sasl === undefined) return undefined;
  const tls: KafkaSecurity['tls'] = !tlsOn
    ? undefined
    : ca === undefined && cert === undefined
      ? true
      : { ...(ca === undefined ? {} : { ca }), ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) };
  return { ...(tls === undefined ? {} : { tls }), ...(sasl === undefined ? {} : { sasl }) };
}

/** `resolveKafkaSecurity` on the real files and environment, as an Effect failing with a UsageError. */
export const kafkaSecurityFrom = (command: string, flags: KafkaSecurityFlags): Effect.Effect<KafkaSecurity | undefined, UsageError> =>
  Effect.try({
    try: () => resolveKafkaSecurity(command, flags, { readFile: (p) => readFileSync(p, 'utf8'), env: process.env }),
    catch: (e) => (e instanceof UsageError ? e : new UsageError({ message: `${command}: ${(e as Error).message}` })),
  });

/**
 * The CLI error for a failure talking to Kafka: an `AccessError` (exit 6, never retried) with the
 * cause named when Kafka refused for security, else a `BrokerError` (exit 4). The message has no
 * secret: the secrets of `security` are masked if a client error ever echoed one.
 */
export function kafkaFailure(prefix: string, e: unknown, security: KafkaSecurity | undefined): AccessError | BrokerError {
  const cause = kafkaSecurityError(e);
  const mask = (text: string) => kafkaSecrets(security).reduce((t, secret) => t.split(secret).join('***'), text);
  if (cause !== undefined) return new AccessError({ message: mask(`${prefix}: Kafka refused the connection: ${cause} [${describeKafkaSecurity(security)}]`) });
  return new BrokerError({ message: mask(`${prefix}: ${(e as Error)?.message ?? String(e)}`) });
}
