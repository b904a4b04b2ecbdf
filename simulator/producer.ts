import type { Message } from 'kafkajs';
import { RetailStreamsError } from '../topology/api/errors.ts';
import { kafkaErrorType, SEQUENCE_LOST_ERRORS } from '../topology/runtimes/kafka/errors.ts';
import type { Logger } from '../topology/api/log.ts';
import { kafkajsSecurity, type KafkaSecurity } from '../topology/runtimes/kafka/security.ts';
import { retrying, type RetryPolicy } from '../topology/internals/retry.ts';
import { InvoiceGenerator, type GeneratedKind, type GeneratedStructured, type GeneratorOptions, type InvoiceFields } from './generator.ts';
import { encodeFramed, parseSchema, type AvroType } from '../processors/avro/avro.ts';
import { RegistryClient, type RegistryClientOptions } from '../processors/avro/registry.ts';
import { INVOICE_SCHEMAS, valueSubject, type InvoiceSchemaVersion } from '../processors/avro/schemas.ts';

export interface SimulateOptions extends GeneratorOptions {
  readonly brokers: readonly string[];
  /** TLS and SASL to Kafka; default plaintext. */
  readonly security?: KafkaSecurity | undefined;
  readonly topic: string;
  /** Invoices per second; 0 sends as fast as the broker takes them. */
  readonly rate: number;
  readonly durationMs?: number;
  readonly count?: number;
  /** Partitions of the topic when it has to be created. */
  readonly partitions: number;
  /** Event time of the first invoice; by default the wall clock at send time. */
  readonly startTime?: number;
  /** Event-time invoices per second when `startTime` is set. */
  readonly eventRate?: number;
  readonly log: Logger;
  readonly progress?: (line: string) => void;
  readonly shouldStop?: () => boolean;
  /** `json` (the feed's lines, the default) or Confluent-framed `avro`, which needs `registry`. */
  readonly format?: 'json' | 'avro';
  /** Confluent-compatible schema registry URL, e.g. http://127.0.0.1:8080/apis/ccompat/v7. */
  readonly registry?: string;
  /** The registry's CA and credentials. */
  readonly registryOptions?: RegistryClientOptions;
  /** Invoice schema version for Avro: registered under `<topic>-value` before anything is sent. */
  readonly schemaVersion?: InvoiceSchemaVersion;
}

/** An id no registry hands out in practice: records framed with it are `unknown-schema`. */
export const UNREGISTERED_SCHEMA_ID = 0x7fff0000;

/** The Avro value of an invoice for a schema version (v2 fills its optional fields). */
export function avroInvoice(f: InvoiceFields, version: InvoiceSchemaVersion): Record<string, unknown> {
  const base = { invoice_no: BigInt(f.invoice_no), country: f.country, timestamp: f.timestamp, type: f.type, items: f.items };
  if (version === '1') return base;
  if (version === '2') return { ...base, customer_id: f.invoice_no % 5 === 0 ? null : `C${f.invoice_no % 100_000}`, currency: 'GBP' };
  return { ...base, store_id: 1 };
}

/** Bytes of a structured record: framed Avro, broken on purpose for the framing faults. */
export function encodeStructured(g: GeneratedStructured, type: AvroType, schemaId: number, version: InvoiceSchemaVersion): Buffer | string {
  if ('text' in g) return g.text;
  const framed = encodeFramed(type, schemaId, avroInvoice(g.invoice, version));
  if (g.kind !== 'bad') return framed;
  switch (g.fault) {
    case 'truncated':
      return framed.subarray(0, 1 + Math.floor(g.cut * (framed.length - 1)));
    case 'bad-magic-byte':
      framed[0] = 1 + Math.floor(g.cut * 8);
      return framed;
    case 'unknown-schema':
      return encodeFramed(type, UNREGISTERED_SCHEMA_ID + Math.floor(g.cut * 0xffff), avroInvoice(g.invoice, version));
    default:
      return framed;
  }
}

export interface SimulateResult {
  readonly sent: number;
  readonly byKind: Readonly<Record<GeneratedKind, number>>;
  readonly elapsedMs: number;
  readonly achievedRate: number;
}

const BATCH = 1000;

/**
 * A broker failing over (a leader moving) can outlast the client's own retries: keep trying for
 * a minute, and then fail with the broker's last error.
 */
const SEND_RETRY_POLICY: RetryPolicy = { initialDelayMs: 250, factor: 2, maxDelayMs: 5_000, giveUpAfterMs: 60_000, retriable: () => true };

/**
 * The producer is idempotent, so a retried batch is never written twice, until the failover
 * loses its sequence numbers: then a new producer (a new producer id) sends the batch again,
 * which may write part of it twice. Nothing is lost either way.
 */
async function sendWithRetry(what: string, send: () => Promise<unknown>, renewProducer: () => Promise<void>, log: Logger): Promise<void> {
  let renew = false;
  await retrying(
    what,
    async () => {
      if (renew) {
        await renewProducer();
        renew = false;
      }
      try {
        await send();
      } catch (e) {
        if (SEQUENCE_LOST_ERRORS.has(kafkaErrorType(e))) {
          log.warn(`${what}: the broker lost the producer's sequence numbers (${kafkaErrorType(e)}); sending again with a new producer, which may write part of the batch twice`);
          renew = true;
        }
        throw e;
      }
    },
    SEND_RETRY_POLICY,
    log,
  );
}
const TICK_MS = 50;

/**
 * Produces seeded invoices to a topic at a target rate, in batches. Partitions are chosen
 * round-robin, so the same seed and partition count give the same topic contents.
 */
export async function simulate(o: SimulateOptions): Promise<SimulateResult> {
  let avro: { type: AvroType; id: number; version: InvoiceSchemaVersion } | undefined;
  if (o.format === 'avro') {
    if (o.registry === undefined) throw new RetailStreamsError('invalid-argument', 'Avro needs a schema registry (--registry URL)');
    const version = o.schemaVersion ?? '1';
    const schema = INVOICE_SCHEMAS[version];
    // Throws SchemaRefusedError (incompatible) or RegistryUnavailableError before anything is sent.
    const id = await new RegistryClient(o.registry, o.registryOptions).register(valueSubject(o.topic), schema);
    o.log.info(`registered invoice schema version ${version} under ${valueSubject(o.topic)}: schema id ${id}`);
    avro = { type: parseSchema(schema), id, version };
  }
  // Loaded here, not at the top: importing the retail application does not load the Kafka client.
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({ clientId: 'retail-streams-simulator', brokers: [...o.brokers], ...kafkajsSecurity(o.security), connectionTimeout: 3_000, retry: { retries: 3 }, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (e) {
    throw new RetailStreamsError('broker-unreachable', `cannot reach Kafka at ${o.brokers.join(',')}: ${(e as Error).message}`, { cause: e });
  }
  const newProducer = () => kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  let producer = newProducer();
  const renewProducer = async () => {
    await producer.disconnect().catch(() => {});
    producer = newProducer();
    await producer.connect();
  };
  try {
    const meta = await admin.fetchTopicMetadata({ topics: [] });
    let partitions = meta.topics.find((t) => t.name === o.topic)?.partitions.length;
    if (partitions === undefined) {
      await admin.createTopics({ topics: [{ topic: o.topic, numPartitions: o.partitions }], waitForLeaders: true });
      partitions = o.partitions;
      o.log.info(`created topic ${o.topic} with ${partitions} partitions`);
    }
    await producer.connect();
    const gen = new InvoiceGenerator(o);
    const byKind: Record<GeneratedKind, number> = { 'on-time': 0, 'out-of-order': 0, late: 0, bad: 0 };
    const limit = o.count ?? Number.POSITIVE_INFINITY;
    const started = Date.now();
    const deadline = o.durationMs === undefined ? Number.POSITIVE_INFINITY : started + o.durationMs;
    const eventStep = o.startTime === undefined ? 0 : 1000 / (o.eventRate ?? (o.rate > 0 ? o.rate : 1000));
    let sent = 0;
    let lastProgress = started;
    while (sent < limit && Date.now() < deadline && !(o.shouldStop?.() ?? false)) {
      const now = Date.now();
      // How many the target rate allows by now; unlimited rate sends full batches back to back.
      const due = o.rate > 0 ? Math.min(BATCH * 10, Math.floor(((now - started) / 1000) * o.rate) - sent) : BATCH;
      const n = Math.min(Math.max(0, due), limit - sent);
      if (n === 0) {
        await new Promise((r) => setTimeout(r, TICK_MS));
        continue;
      }
      const messages: Message[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const eventTime = o.startTime === undefined ? Date.now() : o.startTime + Math.floor((sent + i) * eventStep);
        if (avro === undefined) {
          const g = gen.next(eventTime);
          byKind[g.kind]++;
          messages[i] = { value: g.text, partition: (sent + i) % partitions };
        } else {
          const g = gen.nextStructured(eventTime);
          byKind[g.kind]++;
          messages[i] = { value: encodeStructured(g, avro.type, avro.id, avro.version), partition: (sent + i) % partitions };
        }
      }
      for (let i = 0; i < messages.length; i += BATCH) {
        const batch = messages.slice(i, i + BATCH);
        await sendWithRetry(`send of ${batch.length} invoices to ${o.topic}`, () => producer.send({ topic: o.topic, messages: batch, acks: -1 }), renewProducer, o.log);
      }
      sent += n;
      if (o.progress !== undefined && Date.now() - lastProgress >= 1000) {
        lastProgress = Date.now();
        const secs = (lastProgress - started) / 1000;
        o.progress(`simulate: ${sent} sent in ${secs.toFixed(0)} s, ${Math.round(sent / secs)}/s`);
      }
    }
    const elapsedMs = Date.now() - started;
    return { sent, byKind, elapsedMs, achievedRate: sent / Math.max(elapsedMs / 1000, 1e-3) };
  } finally {
    await producer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}
