/**
 * @platformatic/kafka's errors as the runtime classifies them (errors.ts): the Kafka protocol
 * error's name as `type`, the library's error as `cause`. The library reports a broker's error
 * as a ProtocolError (`code` PLT_KFK_PROTOCOL, the protocol name in `apiId`), often inside a
 * ResponseError or a MultipleErrors (an AggregateError: `errors`) of its retrier, sometimes
 * under `cause`.
 */

interface Node {
  readonly code?: unknown;
  readonly apiId?: unknown;
  readonly errors?: unknown;
  readonly cause?: unknown;
  readonly type?: unknown;
  readonly message?: unknown;
}

/** The first answer `visit` gives for an error or any error under it (`errors`, `cause`), breadth first. */
function findInTree<T>(e: unknown, visit: (n: Node) => T | undefined): T | undefined {
  const queue: unknown[] = [e];
  const seen = new Set<unknown>();
  while (queue.length > 0 && seen.size < 100) {
    const x = queue.shift();
    if (x === null || typeof x !== 'object' || seen.has(x)) continue;
    seen.add(x);
    const n = x as Node;
    const found = visit(n);
    if (found !== undefined) return found;
    if (Array.isArray(n.errors)) queue.push(...(n.errors as unknown[]));
    queue.push(n.cause);
  }
  return undefined;
}

/** The protocol error name of the first broker error in the tree (breadth first), '' when there is none. */
export const protocolErrorName = (e: unknown): string =>
  findInTree(e, (n) => (typeof n.type === 'string' && n.type !== '' ? n.type : n.code === 'PLT_KFK_PROTOCOL' && typeof n.apiId === 'string' ? n.apiId : undefined)) ?? '';

/** An error of the adapter: the protocol error's name as `type` (errors.ts), the library's error as `cause`. */
export class KafkaClientError extends Error {
  readonly type: string;
  constructor(message: string, type: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'KafkaClientError';
    this.type = type;
  }
}

/** The library's message, with the nested errors' messages when it is an aggregate (its own message says little). */
function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const nested = (e as Node).errors;
  if (Array.isArray(nested) && nested.length > 0) {
    const inner = [...new Set(nested.map((x) => (x instanceof Error ? describe(x) : String(x))))];
    return `${e.message} (${inner.join('; ')})`;
  }
  return e.message;
}

/** Wraps anything the library threw so `kafkaErrorType` finds its protocol name; an error already wrapped passes as it is. */
export function portError(e: unknown, doing?: string): Error {
  if (e instanceof KafkaClientError) return e;
  const type = protocolErrorName(e);
  const message = `${doing === undefined ? '' : `${doing}: `}${describe(e)}`;
  return new KafkaClientError(message, type, e);
}

/** Runs a library call, rethrowing its failure as a port error. */
export async function mapped<T>(doing: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw portError(e, doing);
  }
}

/** Protocol errors after which the group coordinator must be looked up again. */
export const COORDINATOR_MOVED = new Set(['NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_LOAD_IN_PROGRESS']);

/** Protocol errors that mean the member must join the group again. */
export const REJOIN = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'MEMBER_ID_REQUIRED', 'FENCED_INSTANCE_ID']);

/** Fetch errors after which the partition's leader is looked up again. */
export const STALE_LEADER = new Set(['NOT_LEADER_OR_FOLLOWER', 'LEADER_NOT_AVAILABLE', 'FENCED_LEADER_EPOCH', 'UNKNOWN_LEADER_EPOCH', 'UNKNOWN_TOPIC_OR_PARTITION', 'KAFKA_STORAGE_ERROR', 'UNKNOWN_TOPIC_ID', 'INCONSISTENT_TOPIC_ID', 'OFFSET_NOT_AVAILABLE', 'REPLICA_NOT_AVAILABLE']);

const NETWORK_CODES = new Set(['PLT_KFK_NETWORK', 'PLT_KFK_TIMEOUT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

/** Whether the library reports a connection failure (a broker down or restarting) anywhere in the error. */
export const isNetworkError = (e: unknown): boolean => findInTree(e, (n) => (typeof n.code === 'string' && NETWORK_CODES.has(n.code) ? true : undefined)) ?? false;
