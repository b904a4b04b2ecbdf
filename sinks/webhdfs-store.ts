import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { FileStore } from './file-store.ts';
import { RetailStreamsError } from '../topology/api/errors.ts';

/**
 * A small typed WebHDFS client over `fetch` (no Hadoop client, no npm package), enough for the
 * file sink's commit protocol and for reading the files back.
 *
 * `hdfs://HOST:PORT/base/path` names the NameNode's WebHDFS HTTP address (Hadoop's
 * `dfs.namenode.http-address`, 9870 by default; not the 8020 RPC port) and a base folder.
 * Every FileStore path is relative to that base.
 *
 * WebHDFS details handled here:
 * - CREATE is two steps: a PUT without body to the NameNode answers 307 with a `Location` on a
 *   DataNode; the body goes there (fetch's own redirect would resend nothing useful, so
 *   `redirect: 'manual'`). OPEN redirects the same way.
 * - The DataNode answers a CREATE body with an unsolicited `100 Continue` before its `201`,
 *   which fetch (undici) rejects as "bad response": that one upload goes through node:http,
 *   which skips informational answers. Everything else is fetch.
 * - RENAME answers `{"boolean":false}` instead of failing when the target exists (and when the
 *   source is missing): `renameNoReplace` tells the two apart with a GETFILESTATUS.
 * - Errors come as `{"RemoteException":{"exception","message"}}` with an HTTP status; a
 *   NameNode in safe mode or without a live DataNode answers 403.
 * - Every request has a timeout (AbortSignal.timeout).
 */

export interface WebHdfsLocation {
  /** `http://host:port` (or `https://` for swebhdfs://) of the NameNode's WebHDFS. */
  readonly endpoint: string;
  /** Absolute base folder, `/` or `/a/b` (no trailing slash). */
  readonly basePath: string;
}

export interface WebHdfsOptions {
  /** `user.name` of every request; default `$HADOOP_USER_NAME`, else `retail-streams`. */
  readonly user?: string;
  /** Timeout of each NameNode request. Default 30 s. */
  readonly timeoutMs?: number;
  /** Timeout of each DataNode transfer (the body of CREATE, OPEN). Default 120 s. */
  readonly dataTimeoutMs?: number;
  /** PEM of the CA that signed the NameNode's and DataNodes' certificates (swebhdfs://); default the system CAs. */
  readonly ca?: string;
  /**
   * A Hadoop delegation token (its URL-safe string form), sent as WebHDFS's `delegation=`
   * parameter instead of `user.name`: the user is the token's. Never logged.
   */
  readonly delegationToken?: string;
}

/** What a server asking for Kerberos gets told: SPNEGO is not supported. */
export const SPNEGO_UNSUPPORTED =
  'the server asks for Kerberos (HTTP 401, WWW-Authenticate: Negotiate): SPNEGO is not supported; use a delegation token (HDFS_DELEGATION_TOKEN) or simple authentication (user.name)';

export interface HdfsFileStatus {
  /** Name inside its folder (empty for GETFILESTATUS). */
  readonly pathSuffix: string;
  readonly type: 'FILE' | 'DIRECTORY' | 'SYMLINK';
  readonly length: number;
  readonly modificationTime: number;
}

/** Refusals that another attempt cannot fix (bad request, permissions, a file in the way). */
const PERMANENT = new Set([
  'AccessControlException',
  'FileAlreadyExistsException',
  'ParentNotDirectoryException',
  'IllegalArgumentException',
  'InvalidPathException',
  'UnsupportedOperationException',
  'SecurityException',
]);

/**
 * A failed WebHDFS call. Code `sink-unavailable` (retriable) when HDFS is down, slow or
 * temporarily refusing (no DataNode, safe mode, 5xx, network); `io` (not retriable) when
 * HDFS refused for good (bad request, permissions, a file where a folder should be).
 */
export class WebHdfsError extends RetailStreamsError {
  readonly op: string;
  readonly path: string;
  /** HTTP status, undefined when no answer came (refused, reset, timed out). */
  readonly status: number | undefined;
  /** The RemoteException's `exception`, e.g. `SafeModeException`. */
  readonly exception: string | undefined;
  constructor(
    args: { op: string; path: string; status?: number; exception?: string; detail: string; permanent?: boolean },
    options?: { cause?: unknown },
  ) {
    const what = args.status === undefined ? args.detail : `HTTP ${args.status}${args.exception ? ` ${args.exception}` : ''}: ${args.detail}`;
    super(args.permanent === true ? 'io' : 'sink-unavailable', `WebHDFS ${args.op} ${args.path}: ${what}`, options);
    this.name = 'WebHdfsError';
    this.op = args.op;
    this.path = args.path;
    this.status = args.status;
    this.exception = args.exception;
  }
}

const DEFAULT_PORT = 9870;
/** `dfs.namenode.https-address`'s default port. */
const DEFAULT_TLS_PORT = 9871;

/**
 * `hdfs://host[:port]/path` (WebHDFS over http) or `swebhdfs://host[:port]/path` (over https, as
 * Hadoop names it) → the WebHDFS endpoint and base folder; `invalid-argument` if malformed.
 */
export function parseHdfsUrl(url: string): WebHdfsLocation {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RetailStreamsError('invalid-argument', `--sink ${url}: not a valid hdfs://host:port/path URL`);
  }
  if (u.protocol !== 'hdfs:' && u.protocol !== 'swebhdfs:') throw new RetailStreamsError('invalid-argument', `--sink ${url}: expected hdfs://host:port/path (or swebhdfs:// for https)`);
  const tls = u.protocol === 'swebhdfs:';
  if (u.hostname === '') throw new RetailStreamsError('invalid-argument', `--sink ${url}: no host (expected hdfs://host:port/path, the NameNode's WebHDFS address)`);
  if (u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '') {
    throw new RetailStreamsError('invalid-argument', `--sink ${url}: no user, query or fragment allowed (set HADOOP_USER_NAME for the user)`);
  }
  const port = u.port === '' ? (tls ? DEFAULT_TLS_PORT : DEFAULT_PORT) : Number(u.port);
  const segments = u.pathname.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
  if (segments.some((s) => s === '.' || s === '..')) throw new RetailStreamsError('invalid-argument', `--sink ${url}: '.' and '..' are not allowed in the path`);
  return { endpoint: `${tls ? 'https' : 'http'}://${u.hostname}:${port}`, basePath: '/' + segments.join('/') };
}

const join = (base: string, rel: string): string => {
  const parts = rel.split('/').filter((s) => s !== '');
  if (parts.length === 0) return base;
  return (base === '/' ? '' : base) + '/' + parts.join('/');
};

const encodePath = (abs: string): string => abs.split('/').map(encodeURIComponent).join('/');

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

export class WebHdfsFileStore implements FileStore {
  readonly location: WebHdfsLocation;
  readonly user: string;
  readonly description: string;
  private readonly timeoutMs: number;
  private readonly dataTimeoutMs: number;
  private readonly delegationToken: string | undefined;
  /** An https agent trusting `ca`, when one is given: requests then go through node:https, not fetch. */
  private readonly agent: Promise<import('node:https').Agent> | undefined;

  constructor(location: string | WebHdfsLocation, options: WebHdfsOptions = {}) {
    this.location = typeof location === 'string' ? parseHdfsUrl(location) : location;
    this.user = options.user ?? (process.env.HADOOP_USER_NAME || 'retail-streams');
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.dataTimeoutMs = options.dataTimeoutMs ?? 120_000;
    this.delegationToken = options.delegationToken;
    const ca = options.ca;
    this.agent = ca === undefined ? undefined : import('node:https').then((https) => new https.Agent({ ca, keepAlive: true }));
    const tls = this.location.endpoint.startsWith('https://');
    this.description = `${tls ? 'swebhdfs' : 'hdfs'}://${this.location.endpoint.replace(/^https?:\/\//, '')}${this.location.basePath} (WebHDFS ${this.location.endpoint}${ca === undefined ? '' : ', custom CA'}${this.delegationToken === undefined ? '' : ', delegation token'})`;
  }


  /** Absolute HDFS path of a store path. */
  absolute(path: string): string {
    return join(this.location.basePath, path);
  }

  async mkdirs(path: string): Promise<void> {
    const abs = this.absolute(path);
    const reply = await this.namenode('PUT', 'MKDIRS', abs, {}, [200]);
    if (booleanOf(reply, 'MKDIRS', abs) !== true) throw new WebHdfsError({ op: 'MKDIRS', path: abs, status: 200, detail: 'answered false' });
  }

  /** CREATE with overwrite: NameNode (307, no body), then the body to the DataNode it names. */
  async writeFile(path: string, content: string): Promise<void> {
    const abs = this.absolute(path);
    const first = await this.namenode('PUT', 'CREATE', abs, { overwrite: 'true' }, [307]);
    const location = first.headers.get('location');
    if (location === null || location === '') throw new WebHdfsError({ op: 'CREATE', path: abs, status: first.status, detail: 'redirect without a Location header' });
    const body = Buffer.from(content, 'utf8');
    await this.request('CREATE', abs, location, { method: 'PUT', timeoutMs: this.dataTimeoutMs, expect: [201, 200] }, async () => upload(location, body, this.dataTimeoutMs, await this.agent));
  }

  /**
   * RENAME unless the target exists. WebHDFS answers false both when the target exists and
   * when the source is missing: true = renamed; false = the target is there (an earlier attempt
   * committed it), and the leftover source is deleted; neither there = an error.
   */
  async renameNoReplace(from: string, to: string): Promise<boolean> {
    const src = this.absolute(from);
    const dst = this.absolute(to);
    const reply = await this.namenode('PUT', 'RENAME', src, { destination: dst }, [200]);
    if (booleanOf(reply, 'RENAME', src) === true) return true;
    if ((await this.getFileStatus(to)) !== null) {
      await this.delete(from);
      return false;
    }
    const srcThere = (await this.getFileStatus(from)) !== null;
    throw new WebHdfsError({
      op: 'RENAME',
      path: src,
      status: reply.status,
      detail: srcThere ? `refused to rename to ${dst} (its folder is missing?)` : `neither ${src} nor ${dst} exists`,
      permanent: !srcThere,
    });
  }

  /** Deletes a file (not recursively); a missing file is fine. */
  async delete(path: string): Promise<void> {
    const abs = this.absolute(path);
    await this.namenode('DELETE', 'DELETE', abs, { recursive: 'false' }, [200]);
  }

  /** The status of a path, or null when it does not exist. */
  async getFileStatus(path: string): Promise<HdfsFileStatus | null> {
    const abs = this.absolute(path);
    const reply = await this.namenode('GET', 'GETFILESTATUS', abs, {}, [200, 404]);
    if (reply.status === 404) return null;
    const status = parseJson(reply, 'GETFILESTATUS', abs) as { FileStatus?: HdfsFileStatus };
    if (status.FileStatus === undefined) throw new WebHdfsError({ op: 'GETFILESTATUS', path: abs, status: reply.status, detail: `unexpected answer ${reply.text.slice(0, 200)}` });
    return status.FileStatus;
  }

  /** The entries of a folder. */
  async listStatus(path: string): Promise<HdfsFileStatus[]> {
    const abs = this.absolute(path);
    const reply = await this.namenode('GET', 'LISTSTATUS', abs, {}, [200]);
    const body = parseJson(reply, 'LISTSTATUS', abs) as { FileStatuses?: { FileStatus?: HdfsFileStatus[] } };
    const list = body.FileStatuses?.FileStatus;
    if (!Array.isArray(list)) throw new WebHdfsError({ op: 'LISTSTATUS', path: abs, status: reply.status, detail: `unexpected answer ${reply.text.slice(0, 200)}` });
    return list;
  }

  /** OPEN: the whole file as UTF-8 (NameNode 307, then the DataNode). */
  async readFile(path: string): Promise<string> {
    const abs = this.absolute(path);
    const first = await this.namenode('GET', 'OPEN', abs, {}, [307, 200]);
    if (first.status === 200) return first.text;
    const location = first.headers.get('location');
    if (location === null || location === '') throw new WebHdfsError({ op: 'OPEN', path: abs, status: first.status, detail: 'redirect without a Location header' });
    const reply = await this.request('OPEN', abs, location, { method: 'GET', timeoutMs: this.dataTimeoutMs, expect: [200] });
    return reply.text;
  }

  private namenode(method: 'GET' | 'PUT' | 'DELETE', op: string, abs: string, params: Record<string, string>, expect: readonly number[]): Promise<Reply> {
    // With a delegation token the user is the token's: user.name is not sent.
    const query = new URLSearchParams({ op, ...(this.delegationToken === undefined ? { 'user.name': this.user } : { delegation: this.delegationToken }), ...params });
    const url = `${this.location.endpoint}/webhdfs/v1${encodePath(abs)}?${query.toString()}`;
    return this.request(op, abs, url, { method, timeoutMs: this.timeoutMs, expect });
  }

  private async request(
    op: string,
    abs: string,
    url: string,
    init: { method: string; timeoutMs: number; expect: readonly number[] },
    send: () => Promise<Reply> = async () => {
      const agent = await this.agent;
      if (agent !== undefined && url.startsWith('https:')) return nodeRequest(url, init.method, undefined, init.timeoutMs, agent);
      const res = await fetch(url, { method: init.method, redirect: 'manual', signal: AbortSignal.timeout(init.timeoutMs) });
      return { status: res.status, headers: res.headers, text: await res.text() };
    },
  ): Promise<Reply> {
    let reply: Reply;
    try {
      reply = await send();
    } catch (e) {
      const detail = networkDetail(e, init.timeoutMs);
      // fetch refuses a few ports outright (the Fetch standard's "bad ports", e.g. 1, 6000, 10080).
      const badPort = detail === 'bad port';
      throw new WebHdfsError(
        { op, path: abs, detail: badPort ? `fetch refuses to connect to port ${new URL(url).port} (a Fetch-standard "bad port")` : detail.includes(new URL(url).host) ? detail : `${detail} (${new URL(url).host})`, permanent: badPort },
        { cause: e },
      );
    }
    if (init.expect.includes(reply.status)) return reply;
    if (reply.status === 401 && /negotiate/i.test(reply.headers.get('www-authenticate') ?? ''))
      throw new WebHdfsError({ op, path: abs, status: 401, detail: SPNEGO_UNSUPPORTED, permanent: true });
    const remote = remoteException(reply.text);
    const permanent =
      (remote !== undefined && PERMANENT.has(remote.exception)) ||
      ((reply.status === 400 || reply.status === 401 || reply.status === 404 || reply.status === 405) && remote?.exception !== 'RetriableException');
    throw new WebHdfsError({
      op,
      path: abs,
      status: reply.status,
      ...(remote !== undefined ? { exception: remote.exception } : {}),
      detail: remote?.message ?? (reply.text.trim().slice(0, 300) || 'no message'),
      permanent,
    });
  }
}

/** PUT a body with node:http (see the header: the DataNode's unsolicited 100 Continue). */
const upload = (url: string, body: Uint8Array, timeoutMs: number, agent?: import('node:https').Agent): Promise<Reply> => nodeRequest(url, 'PUT', body, timeoutMs, agent);

/** One request through node:http(s): uploads, and every request when a custom CA is given. */
function nodeRequest(url: string, method: string, body: Uint8Array | undefined, timeoutMs: number, agent?: import('node:https').Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(
      url,
      {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/octet-stream', 'content-length': String(body.byteLength) },
        signal: AbortSignal.timeout(timeoutMs),
        ...(agent !== undefined && url.startsWith('https:') ? { agent } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
          resolve({ status: res.statusCode ?? 0, headers, text: Buffer.concat(chunks).toString('utf8') });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function networkDetail(e: unknown, timeoutMs: number): string {
  const err = e as Error & { code?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs / 1000}s`;
  if (err.code !== undefined && err.cause === undefined) return err.message || err.code;
  const cause = err.cause;
  if (cause !== undefined && cause !== null && typeof cause === 'object') return cause.message || cause.code || err.message;
  return err.message;
}

function remoteException(text: string): { exception: string; message: string } | undefined {
  try {
    const body = JSON.parse(text) as { RemoteException?: { exception?: unknown; message?: unknown } };
    const r = body.RemoteException;
    if (r === undefined || typeof r.exception !== 'string') return undefined;
    return { exception: r.exception, message: typeof r.message === 'string' ? r.message : '' };
  } catch {
    return undefined;
  }
}

function parseJson(reply: Reply, op: string, abs: string): unknown {
  try {
    return JSON.parse(reply.text);
  } catch {
    throw new WebHdfsError({ op, path: abs, status: reply.status, detail: `not JSON: ${reply.text.slice(0, 200)}` });
  }
}

function booleanOf(reply: Reply, op: string, abs: string): boolean {
  const body = parseJson(reply, op, abs) as { boolean?: unknown };
  if (typeof body.boolean !== 'boolean') throw new WebHdfsError({ op, path: abs, status: reply.status, detail: `unexpected answer ${reply.text.slice(0, 200)}` });
  return body.boolean;
}
