import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SPNEGO_UNSUPPORTED, WebHdfsError, WebHdfsFileStore, parseHdfsUrl } from '../../sinks/webhdfs-store.ts';
import { makeTestTls, type TestTls } from '../support/tls.ts';

/** Requests seen by a fake NameNode/DataNode (the same server). */
interface Seen {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
}
type Handler = (req: Seen, res: ServerResponse, base: string) => void;

function serve(handler: Handler, tls?: TestTls) {
  const seen: Seen[] = [];
  let base = '';
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const s = { method: req.method ?? '', path: decodeURIComponent(url.pathname), query: url.searchParams };
      seen.push(s);
      handler(s, res, base);
    });
  };
  const server = tls === undefined ? createServer(onRequest) : createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest);
  return {
    seen,
    async start() {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
      return (server.address() as AddressInfo).port;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
/** A NameNode that answers GETFILESTATUS, CREATE (redirect to itself as DataNode) and RENAME. */
const namenode: Handler = (req, res, base) => {
  const op = req.query.get('op');
  if (req.path.startsWith('/dn/')) return void res.writeHead(201).end();
  if (op === 'GETFILESTATUS') return json(res, 200, { FileStatus: { pathSuffix: '', type: 'DIRECTORY', length: 0, modificationTime: 0 } });
  if (op === 'CREATE') return void res.writeHead(307, { location: `${base}/dn${req.path.slice('/webhdfs/v1'.length)}?${req.query.toString()}` }).end();
  json(res, 400, { RemoteException: { exception: 'IllegalArgumentException', message: `unexpected ${op}` } });
};

describe('WebHDFS security', () => {
  let tls: TestTls;
  beforeAll(() => {
    tls = makeTestTls();
  });
  afterAll(() => tls?.cleanup());

  it('swebhdfs:// is WebHDFS over https (default port 9871)', () => {
    expect(parseHdfsUrl('swebhdfs://nn.example/kpi')).toEqual({ endpoint: 'https://nn.example:9871', basePath: '/kpi' });
    expect(parseHdfsUrl('swebhdfs://127.0.0.1:1234/')).toEqual({ endpoint: 'https://127.0.0.1:1234', basePath: '/' });
  });

  it('sends a delegation token as delegation= instead of user.name, and never shows it', async () => {
    const s = serve(namenode);
    const port = await s.start();
    try {
      const store = new WebHdfsFileStore(`hdfs://127.0.0.1:${port}/kpi`, { user: 'alice', delegationToken: 'TOKEN-abc123' });
      expect(store.description).not.toContain('TOKEN-abc123');
      expect(store.description).toContain('delegation token');
      await store.getFileStatus('');
      await store.writeFile('a.json', 'x\n');
      const nn = s.seen.filter((r) => r.path.startsWith('/webhdfs/'));
      expect(nn.length).toBe(2);
      for (const r of nn) {
        expect(r.query.get('delegation')).toBe('TOKEN-abc123');
        expect(r.query.has('user.name')).toBe(false);
      }
      const plain = new WebHdfsFileStore(`hdfs://127.0.0.1:${port}/kpi`, { user: 'alice' });
      await plain.getFileStatus('');
      expect(s.seen.at(-1)!.query.get('user.name')).toBe('alice');
      expect(s.seen.at(-1)!.query.has('delegation')).toBe(false);
    } finally {
      await s.stop();
    }
  });

  it('says Kerberos/SPNEGO is not supported when the NameNode asks for Negotiate', async () => {
    const s = serve((_req, res) => res.writeHead(401, { 'www-authenticate': 'Negotiate' }).end('Authentication required'));
    const port = await s.start();
    try {
      const err = await new WebHdfsFileStore(`hdfs://127.0.0.1:${port}/kpi`).getFileStatus('').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WebHdfsError);
      expect((err as WebHdfsError).message).toContain(SPNEGO_UNSUPPORTED);
      expect((err as WebHdfsError).code).toBe('io'); // permanent: no retry can fix it
    } finally {
      await s.stop();
    }
  });

  it('talks https to a NameNode and DataNode whose certificate a custom CA signed; without the CA it is refused', async () => {
    const s = serve(namenode, tls);
    const port = await s.start();
    try {
      const store = new WebHdfsFileStore(`swebhdfs://127.0.0.1:${port}/kpi`, { ca: tls.ca });
      expect((await store.getFileStatus(''))?.type).toBe('DIRECTORY');
      await store.writeFile('a.json', 'x\n');
      expect(s.seen.some((r) => r.path.startsWith('/dn/'))).toBe(true);
      const untrusted = await new WebHdfsFileStore(`swebhdfs://127.0.0.1:${port}/kpi`, { timeoutMs: 5_000 }).getFileStatus('').catch((e: unknown) => e);
      expect(untrusted).toBeInstanceOf(WebHdfsError);
      expect((untrusted as Error).message).toMatch(/certificate/i);
    } finally {
      await s.stop();
    }
  });
});
