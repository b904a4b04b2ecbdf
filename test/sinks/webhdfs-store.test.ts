import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebHdfsError, WebHdfsFileStore, parseHdfsUrl } from '../../sinks/webhdfs-store.ts';
import { RetailStreamsError } from '../../topology/api/errors.ts';

/** A tiny fake WebHDFS: one server plays NameNode (/webhdfs/v1/...) and DataNode (/dn/...). */
interface Seen {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: string;
}
type Handler = (req: Seen, res: ServerResponse) => void;

let server: Server;
let base: string;
let handler: Handler = (_req, res) => res.writeHead(500).end();
const seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const s: Seen = { method: req.method ?? '', path: decodeURIComponent(url.pathname), query: url.searchParams, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(s);
      handler(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
afterEach(() => {
  seen.length = 0;
  delete process.env.HADOOP_USER_NAME;
});

const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const remote = (res: ServerResponse, status: number, exception: string, message: string) => json(res, status, { RemoteException: { exception, javaClassName: `x.${exception}`, message } });
const store = (opts: { timeoutMs?: number; user?: string } = {}) => new WebHdfsFileStore(`hdfs://${base.slice(7)}/kpi/base`, opts);

describe('parseHdfsUrl', () => {
  it('takes the NameNode WebHDFS address and a base folder', () => {
    expect(parseHdfsUrl('hdfs://127.0.0.1:9871/retail-kpi/')).toEqual({ endpoint: 'http://127.0.0.1:9871', basePath: '/retail-kpi' });
    expect(parseHdfsUrl('hdfs://namenode/a/b')).toEqual({ endpoint: 'http://namenode:9870', basePath: '/a/b' });
    expect(parseHdfsUrl('hdfs://h:1')).toEqual({ endpoint: 'http://h:1', basePath: '/' });
  });
  it('rejects what is not hdfs://host:port/path', () => {
    for (const bad of ['hdfs:///x', 'http://h:1/x', 'hdfs://u@h:1/x', 'hdfs://h:1/x?y=1', 'hdfs://h:99999/x', 'nope']) {
      expect(() => parseHdfsUrl(bad), bad).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    }
  });
});

describe('WebHdfsFileStore', () => {
  it('creates a file in two steps: no body to the NameNode, the body to the DataNode it redirects to', async () => {
    handler = (req, res) => {
      if (req.path.startsWith('/webhdfs/v1/')) {
        res.writeHead(307, { location: `${base}/dn${req.path.slice('/webhdfs/v1'.length)}?op=CREATE&overwrite=${req.query.get('overwrite')}` }).end();
      } else {
        // A real DataNode sends 100 Continue although nobody asked for it (fetch chokes on that).
        res.writeContinue();
        res.writeHead(201, { location: 'hdfs://nn/x' }).end();
      }
    };
    await store().writeFile('time-kpis/date=2020-09-18/hour=10/.part-1_0-1.json.tmp', 'a\nb\n');
    expect(seen).toHaveLength(2);
    const [nn, dn] = seen as [Seen, Seen];
    expect(nn.method).toBe('PUT');
    expect(nn.path).toBe('/webhdfs/v1/kpi/base/time-kpis/date=2020-09-18/hour=10/.part-1_0-1.json.tmp');
    expect(Object.fromEntries(nn.query)).toEqual({ op: 'CREATE', 'user.name': 'retail-streams', overwrite: 'true' });
    expect(nn.body).toBe('');
    expect(dn.method).toBe('PUT');
    expect(dn.path).toBe('/dn/kpi/base/time-kpis/date=2020-09-18/hour=10/.part-1_0-1.json.tmp');
    expect(dn.body).toBe('a\nb\n');
  });

  it('sends user.name from HADOOP_USER_NAME, or the option', async () => {
    handler = (_req, res) => json(res, 200, { boolean: true });
    process.env.HADOOP_USER_NAME = 'etl';
    await store().mkdirs('a');
    await store({ user: 'bob' }).mkdirs('a');
    expect(seen.map((s) => s.query.get('user.name'))).toEqual(['etl', 'bob']);
    expect(seen[0]!.query.get('op')).toBe('MKDIRS');
  });

  it('renames: true when done; false when the target exists, and then deletes the temp file', async () => {
    handler = (req, res) => {
      const op = req.query.get('op');
      if (op === 'RENAME') return json(res, 200, { boolean: req.query.get('destination') === '/kpi/base/d/new.json' });
      if (op === 'GETFILESTATUS') return json(res, 200, { FileStatus: { pathSuffix: '', type: 'FILE', length: 3, modificationTime: 1 } });
      if (op === 'DELETE') return json(res, 200, { boolean: true });
      res.writeHead(500).end();
    };
    expect(await store().renameNoReplace('d/.new.json.tmp', 'd/new.json')).toBe(true);
    expect(seen.map((s) => s.query.get('op'))).toEqual(['RENAME']);
    expect(seen[0]!.query.get('destination')).toBe('/kpi/base/d/new.json');
    seen.length = 0;
    expect(await store().renameNoReplace('d/.old.json.tmp', 'd/old.json')).toBe(false);
    expect(seen.map((s) => `${s.query.get('op')} ${s.path}`)).toEqual([
      'RENAME /webhdfs/v1/kpi/base/d/.old.json.tmp',
      'GETFILESTATUS /webhdfs/v1/kpi/base/d/old.json',
      'DELETE /webhdfs/v1/kpi/base/d/.old.json.tmp',
    ]);
  });

  it('fails a rename for good when neither the source nor the target exists', async () => {
    handler = (req, res) => (req.query.get('op') === 'RENAME' ? json(res, 200, { boolean: false }) : remote(res, 404, 'FileNotFoundException', 'File does not exist'));
    const e = await store().renameNoReplace('d/.x.tmp', 'd/x.json').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(WebHdfsError);
    expect((e as WebHdfsError).retriable).toBe(false);
    expect((e as Error).message).toMatch(/neither \/kpi\/base\/d\/\.x\.tmp nor \/kpi\/base\/d\/x\.json exists/);
  });

  it('turns a RemoteException into a typed error with the status and message', async () => {
    handler = (_req, res) => remote(res, 403, 'RetriableException', 'org.apache.hadoop.hdfs.server.namenode.SafeModeException: Name node is in safe mode.');
    const e = (await store().mkdirs('a').catch((x: unknown) => x)) as WebHdfsError;
    expect(e).toBeInstanceOf(RetailStreamsError);
    expect(e.code).toBe('sink-unavailable');
    expect(e.retriable).toBe(true);
    expect(e.status).toBe(403);
    expect(e.exception).toBe('RetriableException');
    expect(e.message).toBe('WebHDFS MKDIRS /kpi/base/a: HTTP 403 RetriableException: org.apache.hadoop.hdfs.server.namenode.SafeModeException: Name node is in safe mode.');

    handler = (_req, res) => remote(res, 403, 'AccessControlException', 'Permission denied: user=x, access=WRITE');
    const denied = (await store().mkdirs('a').catch((x: unknown) => x)) as WebHdfsError;
    expect(denied.code).toBe('io');
    expect(denied.retriable).toBe(false);
    expect(denied.message).toMatch(/HTTP 403 AccessControlException: Permission denied/);

    handler = (_req, res) => res.writeHead(503).end('busy');
    const busy = (await store().writeFile('f', 'x').catch((x: unknown) => x)) as WebHdfsError;
    expect(busy.retriable).toBe(true);
    expect(busy.message).toBe('WebHDFS CREATE /kpi/base/f: HTTP 503: busy');
  });

  it('times out a request that gets no answer', async () => {
    handler = () => {}; // never answers
    const started = Date.now();
    const e = (await store({ timeoutMs: 200 }).delete('f').catch((x: unknown) => x)) as WebHdfsError;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(e.retriable).toBe(true);
    expect(e.message).toMatch(/WebHDFS DELETE \/kpi\/base\/f: no answer within 0\.2s/);
  });

  it('reports a refused connection as retriable', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const e = (await new WebHdfsFileStore(`hdfs://127.0.0.1:${port}/b`).mkdirs('x').catch((x: unknown) => x)) as WebHdfsError;
    expect(e.retriable).toBe(true);
    expect(e.status).toBeUndefined();
    expect(e.message).toMatch(new RegExp(`WebHDFS MKDIRS /b/x: .*ECONNREFUSED.*${port}`));
  });

  it('lists folders and reads files back (OPEN follows the redirect)', async () => {
    handler = (req, res) => {
      const op = req.query.get('op');
      if (op === 'LISTSTATUS') return json(res, 200, { FileStatuses: { FileStatus: [{ pathSuffix: 'a.json', type: 'FILE', length: 2, modificationTime: 1 }] } });
      if (op === 'OPEN') return res.writeHead(307, { location: `${base}/dn/read` }).end();
      if (req.path === '/dn/read') return res.writeHead(200).end('{"x":1}\n');
      if (op === 'GETFILESTATUS') return remote(res, 404, 'FileNotFoundException', 'nope');
      res.writeHead(500).end();
    };
    expect((await store().listStatus('d')).map((f) => f.pathSuffix)).toEqual(['a.json']);
    expect(await store().readFile('d/a.json')).toBe('{"x":1}\n');
    expect(await store().getFileStatus('missing')).toBeNull();
  });
});
