/**
 * The invoice serde for a topic where JSON and Confluent-framed Avro records may be mixed.
 *
 * A record whose first byte is 0x00 is Avro: the next 4 bytes are the schema id, the rest the
 * body, decoded with the writer's schema and then validated exactly like a JSON invoice
 * (`validateInvoice`). Any other record is JSON. `decodeInvoiceValue` never throws: a bad record
 * becomes an `InvalidInvoice` with a reason; the serde's `deserialize` throws it as a
 * `RecordRejectedError` with that reason and detail, and the runtime dead-letters it.
 *
 * Schemas are cached by id. `prepare` (awaited by the Kafka runtime before each batch) resolves
 * the ids the batch needs that are not cached yet; while the registry cannot be reached it
 * waits and retries with backoff, so a good record is never dead-lettered because the registry
 * is down. An id the registry answers "not found" for is dead-lettered as `unknown-schema`.
 */
import type { Serde } from '../../topology/api/serdes.ts';
import { RecordRejectedError } from '../../topology/api/handlers.ts';
import { silentLogger, type Logger } from '../../topology/api/log.ts';
import { messageOf, retrying, type RetryPolicy } from '../../topology/internals/retry.ts';
import { decodeInvoice, validateInvoice, type DecodedInvoice, type InvalidInvoice, type InvalidReason, type InvoiceRecord } from '../invoice.ts';
import { decodeBody, HEADER_BYTES, MAGIC_BYTE, schemaIdOf } from './avro.ts';
import { RegistryUnavailableError, type SchemaLookup, type SchemaSource } from './registry.ts';

const invalid = (reason: InvalidReason, detail: string): InvalidInvoice => ({ valid: false, reason, detail });

interface CacheEntry {
  readonly lookup: SchemaLookup;
  readonly at: number;
}

/** Schemas by id. A "not found" answer is kept for `notFoundTtlMs`, then asked again. */
export class SchemaCache {
  private readonly entries = new Map<number, CacheEntry>();
  private readonly notFoundTtlMs: number;
  constructor(notFoundTtlMs = 60_000) {
    this.notFoundTtlMs = notFoundTtlMs;
  }
  get(id: number): SchemaLookup | undefined {
    return this.entries.get(id)?.lookup;
  }
  /** True when the id must be (re)resolved before a record with it can be decoded. */
  needs(id: number, now = Date.now()): boolean {
    const e = this.entries.get(id);
    return e === undefined || (e.lookup.kind === 'unusable' && now - e.at >= this.notFoundTtlMs);
  }
  set(id: number, lookup: SchemaLookup, now = Date.now()): void {
    this.entries.set(id, { lookup, at: now });
  }
  get size(): number {
    return this.entries.size;
  }
}

/** Avro record (writer's schema) to the checks and derivations of a JSON invoice. */
function fromAvro(doc: unknown): DecodedInvoice {
  if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) {
    const o = doc as Record<string, unknown>;
    const no = o['invoice_no'];
    if (typeof no === 'bigint') {
      const n = Number(no);
      o['invoice_no'] = n;
      // Beyond 2^53 the number has lost digits: validateInvoice reads them from the source text.
      if (!Number.isSafeInteger(n)) return validateInvoice(o, `{"invoice_no":${no.toString()}}`);
    }
  }
  return validateInvoice(doc, '');
}

/** A control byte can start neither JSON text (only whitespace may) nor a framed record. */
const isControlByte = (b: number): boolean => b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d;

/**
 * Decodes one record value, JSON or Confluent-framed Avro, against the schemas in `cache`.
 * Never throws. `registry` only changes the wording when an id is not in the cache.
 */
export function decodeInvoiceValue(bytes: Uint8Array | null, cache: SchemaCache, registry?: string): DecodedInvoice {
  if (bytes === null || bytes.length === 0) return decodeInvoice(bytes);
  const first = bytes[0]!;
  if (first === MAGIC_BYTE) {
    if (bytes.length < HEADER_BYTES) return invalid('bad-avro', `Confluent-framed record of ${bytes.length} bytes: the header alone takes ${HEADER_BYTES}`);
    const id = schemaIdOf(bytes);
    const entry = cache.get(id);
    if (entry === undefined)
      return invalid('unknown-schema', registry === undefined ? `Avro record with schema id ${id}, but no schema registry is configured (--registry)` : `schema id ${id} was not resolved from the ${registry}`);
    if (entry.kind === 'unusable') return invalid('unknown-schema', entry.detail);
    let doc: unknown;
    try {
      doc = decodeBody(entry.type, bytes);
    } catch (e) {
      return invalid('bad-avro', `schema id ${id}: ${(e as Error).message}`);
    }
    return fromAvro(doc);
  }
  if (isControlByte(first)) return invalid('bad-magic-byte', `first byte 0x${first.toString(16).padStart(2, '0')} is neither the Confluent magic byte 0x00 nor the start of JSON`);
  return decodeInvoice(bytes);
}

export interface InvoiceSerdeOptions {
  /** Where unknown schema ids are resolved; without one, Avro records are dead-lettered. */
  readonly registry?: SchemaSource;
  readonly cache?: SchemaCache;
  readonly log?: Logger;
  /** Backoff while the registry is unavailable: first wait, doubling up to the cap. */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /** How often to repeat the "still waiting" warning. */
  readonly warnEveryMs?: number;
}

export interface InvoiceSerde extends Serde<InvoiceRecord> {
  readonly cache: SchemaCache;
  /** Ends any wait for the registry: the pending `prepare` rejects (its batch is not committed). */
  close(): void;
}

/** The invoice serde: JSON and Confluent-framed Avro, schemas resolved in `prepare`. */
export function createInvoiceSerde(o: InvoiceSerdeOptions = {}): InvoiceSerde {
  const cache = o.cache ?? new SchemaCache();
  const registry = o.registry;
  const description = registry?.description;
  const log = o.log ?? silentLogger;
  // A record may be good whatever the registry says while it is down: wait until it answers, or
  // until the serde is closed.
  const outage: RetryPolicy = {
    initialDelayMs: o.retryInitialMs ?? 200,
    factor: 2,
    maxDelayMs: o.retryMaxMs ?? 5_000,
    giveUpAfterMs: Number.POSITIVE_INFINITY,
    retriable: () => true,
    warnEveryMs: o.warnEveryMs ?? 10_000,
  };
  const closed = new AbortController();

  const resolve = async (source: SchemaSource, id: number): Promise<void> => {
    try {
      const found = await retrying(`look-up of schema id ${id} in the ${source.description}`, () => source.lookup(id), outage, log, {
        signal: closed.signal,
        retryingMessage: (f) => `schema registry unavailable, retrying (records wait, none is dead-lettered): ${messageOf(f.error)}`,
        succeededMessage: (f) => `${source.description} answered for schema id ${id} after ${f.failures} retries (${Math.round(f.failingForMs / 1000)} s)`,
      });
      cache.set(id, found);
    } catch (e) {
      if (!closed.signal.aborted) throw e;
      throw new RegistryUnavailableError(`stopped while waiting for the ${source.description} (schema id ${id}); the batch is not committed and will be read again`, { cause: e });
    }
  };

  return {
    name: 'invoice',
    cache,
    serialize: (v) => v.raw,
    deserialize: (raw) => {
      const decoded = decodeInvoiceValue(raw, cache, description);
      // The runtime dead-letters the record under the decoder's own reason. A throw costs only
      // on the rare invalid record; valid ones pay nothing for it.
      if (!decoded.valid) throw new RecordRejectedError(decoded.reason, decoded.detail);
      return { decoded, raw };
    },
    async prepare(values) {
      if (registry === undefined) return;
      const now = Date.now();
      let wanted: Set<number> | undefined;
      for (const v of values) {
        if (v === null || v.length < HEADER_BYTES || v[0] !== MAGIC_BYTE) continue;
        const id = schemaIdOf(v);
        if (cache.needs(id, now)) (wanted ??= new Set()).add(id);
      }
      if (wanted === undefined) return;
      await Promise.all([...wanted].map((id) => resolve(registry, id)));
    },
    close() {
      closed.abort();
    },
  };
}
