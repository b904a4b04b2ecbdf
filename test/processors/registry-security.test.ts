import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient, RegistryUnavailableError } from '../../processors/avro/registry.ts';
import { makeTestTls, type TestTls } from '../support/tls.ts';

const SCHEMA = { type: 'record', name: 'X', fields: [{ name: 'a', type: 'int' }] };

/** A fake Confluent-compatible registry that records the Authorization header of each request. */
function registry(answer: (req: IncomingMessage, res: ServerResponse) => void, tls?: TestTls) {
  const auth: (string | undefined)[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    auth.push(req.headers.authorization);
    req.resume();
    req.on('end', () => answer(req, res));
  };
  const server = tls === undefined ? createServer(onRequest) : createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest);
  return {
    auth,
    async start(): Promise<string> {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
const ok = (_req: IncomingMessage, res: ServerResponse) =>
  res.writeHead(200, { 'content-type': 'application/vnd.schemaregistry.v1+json' }).end(JSON.stringify({ id: 7, schema: JSON.stringify(SCHEMA), compatibilityLevel: 'BACKWARD' }));

describe('schema registry client security', () => {
  let tls: TestTls;
  beforeAll(() => {
    tls = makeTestTls();
  });
  afterAll(() => tls?.cleanup());

  it('sends basic auth or a bearer token, and never puts the secret in its description', async () => {
    const r = registry(ok);
    const url = await r.start();
    try {
      const basic = new RegistryClient(url, { auth: { username: 'sr-user', password: 'sr-secret' } });
      expect(await basic.register('s-value', SCHEMA)).toBe(7);
      expect(r.auth.at(-1)).toBe(`Basic ${Buffer.from('sr-user:sr-secret').toString('base64')}`);
      expect(basic.description).toContain('user "sr-user"');
      expect(basic.description).not.toContain('sr-secret');
      const bearer = new RegistryClient(url, { auth: { token: 'tok-123' } });
      expect((await bearer.lookup(7)).kind).toBe('found');
      expect(r.auth.at(-1)).toBe('Bearer tok-123');
      expect(bearer.description).not.toContain('tok-123');
    } finally {
      await r.stop();
    }
  });

  it('names refused credentials and Kerberos (Negotiate), which is not supported', async () => {
    let scheme = 'Negotiate';
    const r = registry((_req, res) => res.writeHead(401, { 'www-authenticate': scheme, 'content-type': 'application/json' }).end('{"message":"Unauthorized"}'));
    const url = await r.start();
    try {
      const spnego = await new RegistryClient(url).register('s-value', SCHEMA).catch((e: unknown) => e);
      expect(spnego).toBeInstanceOf(RegistryUnavailableError);
      expect((spnego as Error).message).toMatch(/Kerberos \(HTTP 401, WWW-Authenticate: Negotiate\), which is not supported/);
      scheme = 'Basic realm="sr"';
      const wrong = await new RegistryClient(url, { auth: { username: 'u', password: 'wrong-pw' } }).lookup(1).catch((e: unknown) => e);
      expect((wrong as Error).message).toMatch(/refused the credentials \(HTTP 401\)/);
      expect((wrong as Error).message).not.toContain('wrong-pw');
    } finally {
      await r.stop();
    }
  });

  it('reaches an https registry whose certificate a custom CA signed', async () => {
    const r = registry(ok, tls);
    const url = await r.start();
    try {
      expect(await new RegistryClient(url, { ca: tls.ca }).register('s-value', SCHEMA)).toBe(7);
      const untrusted = await new RegistryClient(url, { timeoutMs: 3_000 }).register('s-value', SCHEMA).catch((e: unknown) => e);
      expect(untrusted).toBeInstanceOf(RegistryUnavailableError);
    } finally {
      await r.stop();
    }
  });
});
