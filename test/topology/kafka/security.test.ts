import { describe, expect, it } from 'vitest';
import {
  describeKafkaSecurity, kafkaSecrets, kafkaSecurityError, kafkajsSecurity, redactKafkaSecurity, securityProtocol, type KafkaSecurity,
} from '../../../topology/runtimes/kafka/security.ts';

const PASSWORD = 'correct-horse-battery-staple';
const KEY = '-----BEGIN PRIVATE KEY-----\nTOPSECRETKEY\n-----END PRIVATE KEY-----\n';
const CA = '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n';
const full: KafkaSecurity = { tls: { ca: CA, cert: CA, key: KEY, servername: 'kafka.internal' }, sasl: { mechanism: 'scram-sha-512', username: 'retail', password: PASSWORD } };

/** A kafkajs-shaped error: name, message, and the fields kafkajs sets. */
const kerr = (name: string, message: string, fields: Record<string, unknown> = {}) => Object.assign(new Error(message), { name, ...fields });

describe('describing and redacting', () => {
  it('renders every combination without the password or the key', () => {
    const all: (KafkaSecurity | undefined)[] = [undefined, {}, { tls: true }, { tls: { ca: CA } }, full, { sasl: { mechanism: 'plain', username: 'u', password: PASSWORD } }];
    for (const s of all) {
      const text = describeKafkaSecurity(s) + JSON.stringify(redactKafkaSecurity(s));
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain('TOPSECRETKEY');
    }
    expect(describeKafkaSecurity(undefined)).toBe('PLAINTEXT');
    expect(describeKafkaSecurity({ tls: true })).toBe('SSL; TLS with the system CAs');
    expect(describeKafkaSecurity(full)).toBe(
      'SASL_SSL; SCRAM-SHA-512 as user "retail", password set; TLS with a custom CA (1 certificate), client certificate (1 certificate) and key, server name "kafka.internal"',
    );
    expect(describeKafkaSecurity({ sasl: { mechanism: 'plain', username: 'u', password: 'x' } })).toMatch(/^SASL_PLAINTEXT; PLAIN as user "u", password set; warning: PLAIN without TLS sends the password in clear$/);
    expect(redactKafkaSecurity(full)).toEqual({ tls: { ca: CA, cert: CA, key: '***', servername: 'kafka.internal' }, sasl: { mechanism: 'scram-sha-512', username: 'retail', password: '***' } });
    expect(kafkaSecrets(full)).toEqual([PASSWORD, KEY]);
  });

  it('names the security protocol', () => {
    expect([undefined, { tls: true as const }, { sasl: full.sasl! }, full].map(securityProtocol)).toEqual(['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL']);
  });
});

describe('kafkajsSecurity', () => {
  it('maps to kafkajs ssl and sasl options', () => {
    expect(kafkajsSecurity(undefined)).toEqual({});
    expect(kafkajsSecurity({ tls: true })).toEqual({ ssl: true });
    expect(kafkajsSecurity(full)).toEqual({
      ssl: { ca: [CA], cert: CA, key: KEY, servername: 'kafka.internal' },
      sasl: { mechanism: 'scram-sha-512', username: 'retail', password: PASSWORD },
    });
    expect(kafkajsSecurity({ sasl: { mechanism: 'plain', username: 'u', password: 'p' } })).toEqual({ sasl: { mechanism: 'plain', username: 'u', password: 'p' } });
  });
});

describe('kafkaSecurityError', () => {
  it('authentication: kafkajs SASL errors, wrapped at any depth', () => {
    const scram = kerr('KafkaJSSASLAuthenticationError', 'SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512');
    expect(kafkaSecurityError(scram)).toMatch(/^authentication failed: wrong username or password/);
    const wrapped = new Error('cannot reach Kafka at 127.0.0.1:9093: x', { cause: kerr('KafkaJSNonRetriableError', 'x', { cause: scram }) });
    expect(kafkaSecurityError(wrapped)).toMatch(/^authentication failed/);
    expect(kafkaSecurityError(kerr('KafkaJSSASLAuthenticationError', 'SASL SCRAM-SHA-256 mechanism is not supported by the server'))).toMatch(/has not enabled this SASL mechanism/);
    expect(kafkaSecurityError(kerr('KafkaJSProtocolError', 'Unsupported SASL mechanism', { type: 'UNSUPPORTED_SASL_MECHANISM', code: 33 }))).toMatch(/has not enabled this SASL mechanism/);
    expect(kafkaSecurityError(kerr('KafkaJSProtocolError', 'SASL Authentication failed', { type: 'SASL_AUTHENTICATION_FAILED', code: 58 }))).toMatch(/^authentication failed: wrong username/);
  });

  it('TLS: node verification codes and their messages, also inside kafkajs connection errors', () => {
    for (const code of ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'ERR_TLS_CERT_ALTNAME_INVALID', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED'])
      expect(kafkaSecurityError(kerr('KafkaJSConnectionError', `Connection error: ${code}`, { code })), code).toMatch(new RegExp(`^TLS certificate not trusted \\(${code}\\)`));
    expect(kafkaSecurityError(kerr('KafkaJSConnectionError', 'Connection error: x', { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }))).toMatch(/hostname mismatch/);
    const retries = kerr('KafkaJSNumberOfRetriesExceeded', 'Connection error: self-signed certificate in certificate chain', { cause: kerr('KafkaJSConnectionError', 'Connection error: self-signed certificate in certificate chain') });
    expect(kafkaSecurityError(retries)).toMatch(/^TLS certificate not trusted: the broker certificate chain ends in a self-signed CA/);
    expect(kafkaSecurityError(new Error('unable to verify the first certificate'))).toMatch(/signed by a CA this client does not trust/);
  });

  it('authorization: topic, group, transactional id, cluster; the resource when the error has it', () => {
    const topic = kerr('KafkaJSProtocolError', 'Not authorized to access topics: [Topic authorization failed]', { type: 'TOPIC_AUTHORIZATION_FAILED', code: 29 });
    expect(kafkaSecurityError(topic)).toBe(
      "authorization failed (TOPIC_AUTHORIZATION_FAILED): the broker's ACLs do not allow this user the operation on a topic; see the ACL list in the README's Security section",
    );
    const create = Object.assign(new Error('Topic creation errors'), { name: 'KafkaJSAggregateError', errors: [kerr('KafkaJSCreateTopicError', 'Topic authorization failed', { type: 'TOPIC_AUTHORIZATION_FAILED', code: 29, topic: 'kpi-time' })] });
    expect(kafkaSecurityError(create)).toMatch(/on topic "kpi-time"/);
    expect(kafkaSecurityError(new Error('x', { cause: { type: 'GROUP_AUTHORIZATION_FAILED', groupId: 'retail-kpi' } }))).toMatch(/\(GROUP_AUTHORIZATION_FAILED\).* on group "retail-kpi"/);
    expect(kafkaSecurityError(kerr('KafkaJSProtocolError', 'x', { type: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', transactionalId: 'retail-kpi-0_1' }))).toMatch(/on transactional id "retail-kpi-0_1"/);
    expect(kafkaSecurityError(kerr('KafkaJSProtocolError', 'x', { type: 'CLUSTER_AUTHORIZATION_FAILED' }))).toMatch(/on the cluster/);
    // a client that gives the protocol code only
    expect(kafkaSecurityError({ code: 53, message: 'x' })).toMatch(/TRANSACTIONAL_ID_AUTHORIZATION_FAILED/);
    expect(kafkaSecurityError(new Error('Not authorized to access topics: [invoices]', { cause: { code: 29 } }))).toMatch(/on topic "invoices"/);
  });

  it('reads @platformatic/kafka error shapes too', () => {
    const protocol = (apiId: string, apiCode: number, extra: Record<string, unknown> = {}) => Object.assign(new Error(`protocol ${apiId}`), { code: 'PLT_KFK_PROTOCOL', apiId, apiCode, ...extra });
    const multiple = Object.assign(new AggregateError([protocol('TOPIC_AUTHORIZATION_FAILED', 29, { path: '/topics/0' })], 'Received response with error'), { code: 'PLT_KFK_RESPONSE' });
    expect(kafkaSecurityError(multiple)).toMatch(/\(TOPIC_AUTHORIZATION_FAILED\)/);
    expect(kafkaSecurityError(protocol('GROUP_AUTHORIZATION_FAILED', 30))).toMatch(/on a group/);
    expect(kafkaSecurityError(Object.assign(new Error('x'), { apiCode: 31 }))).toMatch(/CLUSTER_AUTHORIZATION_FAILED/);
    expect(kafkaSecurityError(Object.assign(new Error('SASL authentication failed'), { code: 'PLT_KFK_AUTHENTICATION' }))).toMatch(/^authentication failed/);
    expect(kafkaSecurityError(protocol('SASL_AUTHENTICATION_FAILED', 58))).toMatch(/^authentication failed/);
    expect(kafkaSecurityError(Object.assign(new Error('Connection failed'), { code: 'PLT_KFK_NETWORK', cause: Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }) }))).toMatch(
      /^TLS certificate not trusted \(SELF_SIGNED_CERT_IN_CHAIN\)/,
    );
  });

  it('leaves other errors alone', () => {
    for (const e of [new Error('Connection timeout'), kerr('KafkaJSProtocolError', 'x', { type: 'NOT_COORDINATOR', code: 16 }), kerr('KafkaJSConnectionError', 'refused', { code: 'ECONNREFUSED' }), undefined, 'text', null])
      expect(kafkaSecurityError(e)).toBeUndefined();
  });

  it('survives cycles in the cause chain', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(kafkaSecurityError(a)).toBeUndefined();
  });
});
