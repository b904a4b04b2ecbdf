/**
 * TLS and SASL settings of every connection to Kafka, the one shape every client adapter takes,
 * with the helpers around it: a rendering for logs that never shows a secret, the mapping to
 * kafkajs's `ssl`/`sasl` options, and a classifier that turns a client error caused by security
 * (authentication, TLS trust, ACLs) into a message that names the cause.
 */
import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';

/** TLS and SASL for every connection to Kafka. Absent: plaintext. */
export interface KafkaSecurity {
  /** TLS: `true` for the system CAs, or PEM text of a custom CA and an optional client certificate. */
  readonly tls?: true | { readonly ca?: string; readonly cert?: string; readonly key?: string; readonly servername?: string };
  readonly sasl?: { readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; readonly username: string; readonly password: string };
}

export type SaslMechanism = NonNullable<KafkaSecurity['sasl']>['mechanism'];
export const SASL_MECHANISMS: readonly SaslMechanism[] = ['plain', 'scram-sha-256', 'scram-sha-512'];

/** Kafka's `security.protocol` of these settings: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL. */
export function securityProtocol(s: KafkaSecurity | undefined): 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL' {
  const tls = s?.tls !== undefined;
  const sasl = s?.sasl !== undefined;
  return tls ? (sasl ? 'SASL_SSL' : 'SSL') : sasl ? 'SASL_PLAINTEXT' : 'PLAINTEXT';
}

/** A short fingerprint of PEM text (its first certificate's subject is not parsed: no crypto loaded). */
const pemSummary = (pem: string): string => {
  const n = (pem.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
  return n === 1 ? '1 certificate' : `${n} certificates`;
};

/**
 * The settings as one line for logs and `describe`, with no secret: the password and the
 * private key never appear, only that they are set.
 *
 *   SASL_SSL, SCRAM-SHA-512 as user "retail", password set; TLS with a custom CA (1 certificate)
 */
export function describeKafkaSecurity(s: KafkaSecurity | undefined): string {
  const parts: string[] = [securityProtocol(s)];
  if (s?.sasl !== undefined) parts.push(`${s.sasl.mechanism.toUpperCase()} as user ${JSON.stringify(s.sasl.username)}, password ${s.sasl.password === '' ? 'empty' : 'set'}`);
  if (s?.tls === true) parts.push('TLS with the system CAs');
  else if (s?.tls !== undefined) {
    const t = s.tls;
    const bits = [t.ca === undefined ? 'the system CAs' : `a custom CA (${pemSummary(t.ca)})`];
    if (t.cert !== undefined) bits.push(`client certificate (${pemSummary(t.cert)})${t.key === undefined ? '' : ' and key'}`);
    if (t.servername !== undefined) bits.push(`server name ${JSON.stringify(t.servername)}`);
    parts.push(`TLS with ${bits.join(', ')}`);
  }
  if (s?.sasl !== undefined && s.tls === undefined && s.sasl.mechanism === 'plain') parts.push('warning: PLAIN without TLS sends the password in clear');
  return parts.join('; ');
}

/**
 * A copy with the secrets replaced by `***` (password, private key), for structured logs and
 * `JSON.stringify`; certificates are public and kept.
 */
export function redactKafkaSecurity(s: KafkaSecurity | undefined): KafkaSecurity | undefined {
  if (s === undefined) return undefined;
  return {
    ...(s.tls === undefined ? {} : { tls: s.tls === true ? true : { ...s.tls, ...(s.tls.key === undefined ? {} : { key: '***' }) } }),
    ...(s.sasl === undefined ? {} : { sasl: { ...s.sasl, password: '***' } }),
  };
}

/** The secrets of the settings (password, private key): what no output may contain. */
export function kafkaSecrets(s: KafkaSecurity | undefined): string[] {
  const out: string[] = [];
  if (s?.sasl !== undefined && s.sasl.password !== '') out.push(s.sasl.password);
  if (s?.tls !== undefined && s.tls !== true && s.tls.key !== undefined) out.push(s.tls.key);
  return out;
}

/** kafkajs's `ssl` and `sasl` client options for these settings (spread into `new Kafka({...})`). */
export function kafkajsSecurity(s: KafkaSecurity | undefined): { ssl?: true | ConnectionOptions; sasl?: SASLOptions } {
  if (s === undefined) return {};
  const out: { ssl?: true | ConnectionOptions; sasl?: SASLOptions } = {};
  if (s.tls === true) out.ssl = true;
  else if (s.tls !== undefined) {
    const t = s.tls;
    out.ssl = {
      ...(t.ca === undefined ? {} : { ca: [t.ca] }),
      ...(t.cert === undefined ? {} : { cert: t.cert }),
      ...(t.key === undefined ? {} : { key: t.key }),
      ...(t.servername === undefined ? {} : { servername: t.servername }),
    };
  }
  if (s.sasl !== undefined) {
    const { username, password } = s.sasl;
    out.sasl =
      s.sasl.mechanism === 'plain'
        ? { mechanism: 'plain', username, password }
        : s.sasl.mechanism === 'scram-sha-256'
          ? { mechanism: 'scram-sha-256', username, password }
          : { mechanism: 'scram-sha-512', username, password };
  }
  return out;
}

// ------------------------------------------------------------------ error classification

/** Node's TLS verification error codes, and what each means for the user. */
const TLS_CODES: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the broker certificate is signed by a CA this client does not trust',
  UNABLE_TO_GET_ISSUER_CERT: 'the broker certificate is signed by a CA this client does not trust',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the broker certificate is signed by a CA this client does not trust',
  SELF_SIGNED_CERT_IN_CHAIN: 'the broker certificate chain ends in a self-signed CA this client does not trust',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the broker certificate is self-signed and not trusted',
  CERT_HAS_EXPIRED: 'the broker certificate has expired',
  CERT_NOT_YET_VALID: 'the broker certificate is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the broker certificate does not name the host connected to (hostname mismatch)',
  CERT_SIGNATURE_FAILURE: 'the broker certificate signature does not verify',
};
const TLS_MESSAGES: readonly [RegExp, string][] = [
  [/unable to verify the first certificate|unable to get (local )?issuer certificate/i, TLS_CODES.UNABLE_TO_VERIFY_LEAF_SIGNATURE!],
  [/self[- ]signed certificate in certificate chain/i, TLS_CODES.SELF_SIGNED_CERT_IN_CHAIN!],
  [/self[- ]signed certificate/i, TLS_CODES.DEPTH_ZERO_SELF_SIGNED_CERT!],
  [/Hostname\/IP does not match certificate's altnames/i, TLS_CODES.ERR_TLS_CERT_ALTNAME_INVALID!],
  [/certificate has expired/i, TLS_CODES.CERT_HAS_EXPIRED!],
];

const AUTHZ: Readonly<Record<string, string>> = {
  TOPIC_AUTHORIZATION_FAILED: 'topic',
  GROUP_AUTHORIZATION_FAILED: 'group',
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 'transactional id',
  CLUSTER_AUTHORIZATION_FAILED: 'cluster',
};
/** Kafka protocol error codes of the same errors, for clients that give the number only. */
const AUTHZ_CODES: Readonly<Record<number, string>> = {
  29: 'TOPIC_AUTHORIZATION_FAILED',
  30: 'GROUP_AUTHORIZATION_FAILED',
  31: 'CLUSTER_AUTHORIZATION_FAILED',
  53: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
};
const AUTHN_TYPES = new Set(['SASL_AUTHENTICATION_FAILED', 'UNSUPPORTED_SASL_MECHANISM', 'ILLEGAL_SASL_STATE']);

type Node = Record<string, unknown> & { message?: unknown; name?: unknown };

/** The error and everything it wraps (cause, originalError, errors of an aggregate), breadth first. */
function chain(e: unknown): Node[] {
  const out: Node[] = [];
  const queue: unknown[] = [e];
  while (queue.length > 0 && out.length < 50) {
    const x = queue.shift();
    if (x === null || typeof x !== 'object' || out.includes(x as Node)) continue;
    const n = x as Node;
    out.push(n);
    queue.push(n.cause, n.originalError, n.error);
    if (Array.isArray(n.errors)) queue.push(...(n.errors as unknown[]));
  }
  return out;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The resource an authorization error names, if any level of the error carries it. */
function resourceOf(nodes: readonly Node[], kind: string): string | undefined {
  const keys = kind === 'topic' ? ['topic', 'topicName'] : kind === 'group' ? ['groupId', 'group'] : kind === 'transactional id' ? ['transactionalId'] : [];
  for (const n of nodes) for (const k of keys) {
    const v = str(n[k]);
    if (v !== undefined) return v;
  }
  // Kafka's own messages name the resource: "Not authorized to access topics: [invoices]".
  for (const n of nodes) {
    const m = /not authorized to access (?:topics|group|groups)[^[]*\[([^\]]+)\]/i.exec(String(n.message ?? ''));
    // (kafkajs puts its own description in the brackets: "[Topic authorization failed]")
    if (m !== null && !/authorization failed/i.test(m[1]!)) return m[1];
  }
  return undefined;
}

/**
 * Classifies a Kafka client error caused by security into a message that names the cause, or
 * undefined for any other error. Recognised, at any depth of `cause`/`originalError`/`errors`,
 * in kafkajs's shapes (`name`, `type`) and @platformatic/kafka's (`code`, `apiId`, `apiCode`):
 * - authentication: kafkajs's `KafkaJSSASLAuthenticationError`, platformatic's
 *   `PLT_KFK_AUTHENTICATION`, the protocol errors
 *   SASL_AUTHENTICATION_FAILED / UNSUPPORTED_SASL_MECHANISM (wrong user or password, a SASL
 *   mechanism the broker has not enabled);
 * - TLS trust: Node's verification codes (UNABLE_TO_VERIFY_LEAF_SIGNATURE, SELF_SIGNED_CERT_IN_CHAIN,
 *   ERR_TLS_CERT_ALTNAME_INVALID, ...) or their messages;
 * - authorization: TOPIC_, GROUP_, TRANSACTIONAL_ID_ and CLUSTER_AUTHORIZATION_FAILED (by `type`
 *   or protocol code), naming the resource when the error carries it.
 * The message never contains a secret: it is built from the error's kind, not from the settings.
 */
export function kafkaSecurityError(e: unknown): string | undefined {
  const nodes = chain(e);
  for (const n of nodes) {
    // kafkajs: `type` (and a numeric `code`); @platformatic/kafka: `apiId` and `apiCode`
    const type = str(n.type) ?? str(n.apiId) ?? (typeof n.code === 'number' ? AUTHZ_CODES[n.code] : typeof n.apiCode === 'number' ? AUTHZ_CODES[n.apiCode] : undefined);
    const kind = type === undefined ? undefined : AUTHZ[type];
    if (type !== undefined && kind !== undefined) {
      const resource = resourceOf(nodes, kind);
      const what = kind === 'cluster' ? 'the cluster' : resource === undefined ? `a ${kind}` : `${kind} ${JSON.stringify(resource)}`;
      return `authorization failed (${type}): the broker's ACLs do not allow this user the operation on ${what}; see the ACL list in the README's Security section`;
    }
  }
  for (const n of nodes) {
    const name = str(n.name);
    const type = str(n.type) ?? str(n.apiId);
    const message = String(n.message ?? '');
    if (name === 'KafkaJSSASLAuthenticationError' || n.code === 'PLT_KFK_AUTHENTICATION' || (type !== undefined && AUTHN_TYPES.has(type))) {
      const unsupported = type === 'UNSUPPORTED_SASL_MECHANISM' || /mechanism is not supported|unsupported sasl mechanism/i.test(message);
      return unsupported
        ? `authentication failed: the broker has not enabled this SASL mechanism (${message})`
        : `authentication failed: wrong username or password, or a SASL mechanism the broker has not enabled for this user (${message})`;
    }
  }
  for (const n of nodes) {
    const code = str(n.code);
    if (code !== undefined && TLS_CODES[code] !== undefined) return `TLS certificate not trusted (${code}): ${TLS_CODES[code]}; give its CA with --kafka-ca FILE`;
    const message = String(n.message ?? '');
    for (const [re, text] of TLS_MESSAGES) if (re.test(message)) return `TLS certificate not trusted: ${text} (${message}); give its CA with --kafka-ca FILE`;
  }
  return undefined;
}
