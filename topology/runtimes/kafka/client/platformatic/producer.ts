/**
 * The port's Producer on @platformatic/kafka's Producer: idempotent (acks -1, one record batch
 * per partition and request, so a partition's records of one `sendBatch` get consecutive offsets
 * from the `baseOffset` the broker answers), and transactional when given a transactional id.
 *
 * A transaction's offsets go in one TxnOffsetCommit request (the library's `addOffset` sends one
 * request per partition and drops the commit metadata), with the consumer's group generation
 * and member id when the port's `consumer` is given (KIP-447); the transaction is registered
 * with the group by the library (`addConsumer`, AddOffsetsToTxn).
 */
import * as pk from '@platformatic/kafka';
import type { ClientOptions, Consumer, GroupOffsets, Message, ProducerOptions, Producer, RecordMetadata, TopicMessages, Transaction } from '../port.ts';
import { mapped, portError } from './errors.ts';
import type { GroupMetadata } from './group.ts';
import { ApiPicker, baseOptions } from './options.ts';

type Outgoing = pk.MessageToProduce<Buffer, Buffer, Buffer, Buffer>;
type LibraryTransaction = Awaited<ReturnType<pk.Producer<Buffer, Buffer, Buffer, Buffer>['beginTransaction']>>;

/** The port's messages as the library's (Buffers, bigint timestamps, header Map). */
export function toOutgoing(topicMessages: readonly TopicMessages[]): Outgoing[] {
  const out: Outgoing[] = [];
  for (const { topic, messages } of topicMessages) {
    for (const m of messages) out.push(outgoing(topic, m));
  }
  return out;
}

const bytes = (v: Buffer | string | null): Buffer | undefined => (v === null ? undefined : Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8'));

function outgoing(topic: string, m: Message): Outgoing {
  const headers = new Map<Buffer, Buffer>();
  for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers.set(Buffer.from(k, 'utf8'), Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8'));
  const o: Outgoing = { topic, value: bytes(m.value), headers };
  if (m.key !== undefined && m.key !== null) o.key = bytes(m.key);
  if (m.partition !== undefined) o.partition = m.partition;
  if (m.timestamp !== undefined) o.timestamp = BigInt(m.timestamp);
  return o;
}

/** The library's produce result as the port's per-partition RecordMetadata. */
export function toRecordMetadata(result: pk.ProduceResult): RecordMetadata[] {
  return (result.offsets ?? []).map((o) => ({ topicName: o.topic, partition: o.partition, errorCode: 0, baseOffset: String(o.offset) }));
}

/** The group generation a consumer of this adapter is in (KIP-447); anything else has none. */
type WithGroup = { groupMetadata(): GroupMetadata };
const hasGroup = (c: Consumer | undefined): c is Consumer & WithGroup => typeof (c as Partial<WithGroup> | undefined)?.groupMetadata === 'function';

/**
 * The library's producer, with one request kept at the version clients use. The library sends
 * each API at the highest version the broker lists; AddPartitionsToTxn v4 and later are the
 * brokers' own batched form (KIP-890), which the broker authorizes as ClusterAction: under an
 * authorizer, a transactional producer with only its own ACLs would be refused every
 * transaction. Version 3 is the clients' version (the Java producer sends it). `kGetApi` is
 * the library's exported extension point for this choice.
 */
class ClientVersionsProducer extends pk.Producer {
  /** The producer's protocol versions, also for the calls the adapter makes itself (TxnOffsetCommit, FindCoordinator). */
  readonly apis = new ApiPicker(this, { AddPartitionsToTxn: 3 });

  override [pk.kGetApi]<RequestArguments extends Array<unknown>, ResponseType>(name: string, callback: pk.Callback<pk.API<RequestArguments, ResponseType>>): void {
    if (name !== 'AddPartitionsToTxn') {
      super[pk.kGetApi](name, callback);
      return;
    }
    this.apis.get(name).then(
      (api) => callback(null, api as unknown as pk.API<RequestArguments, ResponseType>),
      (e: unknown) => callback(e as never, undefined as never),
    );
  }
}

export class PlatformaticProducer implements Producer {
  private readonly producer: ClientVersionsProducer;
  /** Group coordinators by group id, for the transactions' offsets. */
  private readonly coordinators = new Map<string, { host: string; port: number }>();
  private readonly transactionalId: string | undefined;
  constructor(client: ClientOptions, options: ProducerOptions | undefined) {
    this.transactionalId = options?.transactionalId;
    this.producer = new ClientVersionsProducer({
      ...baseOptions(client, 'producer'),
      idempotent: true,
      acks: -1,
      // InitProducerId asks for a new producer id: the library's default (id 0, epoch 0) names an
      // existing producer, which the broker refuses with PRODUCER_FENCED for a transactional id a
      // producer used before (every restart of a task).
      producerId: -1n,
      producerEpoch: -1,
      autocreateTopics: false,
      ...(this.transactionalId === undefined ? {} : { transactionalId: this.transactionalId }),
      // The library sends its `timeout` as InitProducerId's transaction timeout (and as the
      // produce request's ack timeout): transaction.timeout.ms when asked for, Kafka's 60 s else.
      timeout: options?.transactionTimeoutMs ?? 60_000,
    });
  }

  async connect(): Promise<void> {
    await mapped('connecting the producer', () => this.producer.metadata({ topics: [] }));
  }

  async disconnect(): Promise<void> {
    await this.producer.close().catch(() => {});
  }

  async sendBatch(args: { topicMessages: TopicMessages[]; acks: -1 }): Promise<RecordMetadata[]> {
    const messages = toOutgoing(args.topicMessages);
    if (messages.length === 0) return [];
    return toRecordMetadata(await mapped('producing', () => this.producer.send({ messages })));
  }

  async transaction(): Promise<Transaction> {
    if (this.transactionalId === undefined) throw new Error('transaction() needs a producer with a transactionalId');
    let txn: LibraryTransaction;
    try {
      txn = await this.producer.beginTransaction();
    } catch (e) {
      // The library keeps the transaction it failed to begin (InitProducerId refused, e.g.
      // CONCURRENT_TRANSACTIONS while the previous one is settled): forget it, so a retry can begin.
      await this.producer.transaction?.cancel().catch(() => {});
      throw portError(e, `beginning a transaction of ${this.transactionalId}`);
    }
    return new PlatformaticTransaction(this.producer, txn, this.transactionalId, this.producer.apis, this.coordinators);
  }
}

class PlatformaticTransaction implements Transaction {
  private readonly producer: pk.Producer<Buffer, Buffer, Buffer, Buffer>;
  private readonly txn: LibraryTransaction;
  private readonly id: string;
  private readonly apis: ApiPicker;
  private readonly coordinators: Map<string, { host: string; port: number }>;
  /** Whether anything reached the broker in this transaction: an empty one ends here, as kafkajs ends it (the broker has no transaction to end). */
  private touched = false;

  constructor(producer: pk.Producer<Buffer, Buffer, Buffer, Buffer>, txn: LibraryTransaction, id: string, apis: ApiPicker, coordinators: Map<string, { host: string; port: number }>) {
    this.producer = producer;
    this.txn = txn;
    this.id = id;
    this.apis = apis;
    this.coordinators = coordinators;
  }

  async sendBatch(args: { topicMessages: TopicMessages[]; acks: -1 }): Promise<RecordMetadata[]> {
    const messages = toOutgoing(args.topicMessages);
    if (messages.length === 0) return [];
    this.touched = true;
    return toRecordMetadata(await mapped(`producing in a transaction of ${this.id}`, () => this.txn.send({ messages })));
  }

  async sendOffsets(args: GroupOffsets & { consumer?: Consumer }): Promise<void> {
    const { consumerGroupId: groupId } = args;
    // A consumer of another client has no generation to give: refused rather than committed unfenced.
    if (args.consumer !== undefined && !hasGroup(args.consumer)) throw new Error('sendOffsets: the consumer is not one of the platformatic adapter: its group generation is unknown');
    const group: GroupMetadata | undefined = hasGroup(args.consumer) ? args.consumer.groupMetadata() : undefined;
    if (group !== undefined && group.groupId !== groupId) throw new Error(`sendOffsets: the consumer is in group ${group.groupId}, not ${groupId}`);
    this.touched = true;
    // AddOffsetsToTxn: the library reads only the group id of what it is given.
    await mapped(`adding group ${groupId} to a transaction of ${this.id}`, () => this.txn.addConsumer({ groupId } as unknown as pk.Consumer));
    const topics = args.topics.map((t) => ({
      name: t.topic,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, committedOffset: BigInt(p.offset), committedLeaderEpoch: -1, committedMetadata: p.metadata ?? null })),
    }));
    const producerId = this.producer.producerId;
    const producerEpoch = this.producer.producerEpoch;
    if (producerId === undefined || producerEpoch === undefined) throw new Error(`the producer of ${this.id} has no producer id`);
    await mapped(`committing offsets of group ${groupId} in a transaction of ${this.id}`, async () => {
      const connection = await this.groupCoordinator(groupId);
      const api = await this.apis.get('TxnOffsetCommit');
      try {
        // Without a consumer (generation -1, no member id) the broker commits without a group check, as for kafkajs.
        await api.async(connection, this.id, groupId, producerId, producerEpoch, group?.generationId ?? -1, group?.memberId ?? '', null, topics);
      } catch (e) {
        this.coordinators.delete(groupId);
        throw e;
      }
    });
  }

  /** A connection to the group's coordinator, through the producer's own connections (closed with it). */
  private async groupCoordinator(groupId: string): Promise<pk.Connection> {
    let at = this.coordinators.get(groupId);
    if (at === undefined) {
      const metadata = await this.producer.metadata({ topics: [] });
      const broker = [...metadata.brokers.values()][0];
      if (broker === undefined) throw new Error('no broker known');
      const find = await this.apis.get('FindCoordinator');
      const found = ((await find.async(await this.producer.connections.get({ host: broker.host, port: broker.port }), 0, [groupId])) as { coordinators: { nodeId: number; host: string; port: number; errorCode: number }[] }).coordinators[0];
      if (found === undefined || found.errorCode !== 0 || found.nodeId < 0) throw new Error(`no coordinator for group ${groupId}`);
      at = { host: found.host, port: found.port };
      this.coordinators.set(groupId, at);
    }
    return this.producer.connections.get(at);
  }

  async commit(): Promise<void> {
    if (!this.touched) return void (await this.txn.cancel());
    await mapped(`committing a transaction of ${this.id}`, () => this.txn.commit());
  }

  async abort(): Promise<void> {
    if (!this.touched) return void (await this.txn.cancel());
    try {
      await this.txn.abort();
    } catch (e) {
      // The library keeps a transaction it could not end: forget it here, so this producer can
      // begin another once the broker settles it (or a newer producer fenced this one).
      await this.txn.cancel().catch(() => {});
      throw portError(e, `aborting a transaction of ${this.id}`);
    }
  }
}
