// The pure parts of the @platformatic/kafka adapter: error mapping to the protocol error names the
// runtime classifies, fetched record batches to read_committed's raw records, the port's messages
// to the library's, and the security settings. Everything that talks to a broker is tested
// against a real one (test/integration/platformatic-*.test.ts).
import * as pk from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { kafkaErrorType, REBALANCE_ERRORS, FENCED_ERRORS, SEQUENCE_LOST_ERRORS } from '../../../topology/runtimes/kafka/errors.ts';
import { rawRecords } from '../../../topology/runtimes/kafka/client/platformatic/record-batches.ts';
import { isNetworkError, KafkaClientError, portError, protocolErrorName } from '../../../topology/runtimes/kafka/client/platformatic/errors.ts';
import { platformaticSecurity } from '../../../topology/runtimes/kafka/client/platformatic/options.ts';
import { toOutgoing, toRecordMetadata } from '../../../topology/runtimes/kafka/client/platformatic/producer.ts';
import { readCommitted } from '../../../topology/runtimes/kafka/client/read-committed.ts';

describe('error mapping', () => {
  it("gives the protocol error's name as `type`, whatever the library wrapped it in, and keeps the original as `cause`", () => {
    const response = new pk.ResponseError(8, 9, { '/topics/0/partitions/0': [27, null] }, { topics: [] });
    const e = portError(response, 'committing');
    expect(e).toBeInstanceOf(KafkaClientError);
    expect(kafkaErrorType(e)).toBe('REBALANCE_IN_PROGRESS');
    expect(REBALANCE_ERRORS.has(kafkaErrorType(e))).toBe(true);
    expect(e.cause).toBe(response);
    expect(e.message).toMatch(/^committing: .*REBALANCE_IN_PROGRESS|^committing: .*rebalanc/i);

    const retried = new pk.MultipleErrors('Produce failed after 3 attempts', [new pk.NetworkError('socket hang up'), new pk.ResponseError(0, 11, { '/responses/0/partitions/0': [45, null] }, {})]);
    expect(kafkaErrorType(portError(retried))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(SEQUENCE_LOST_ERRORS.has(kafkaErrorType(portError(retried)))).toBe(true);

    for (const [code, name] of [[90, 'PRODUCER_FENCED'], [47, 'INVALID_PRODUCER_EPOCH'], [25, 'UNKNOWN_MEMBER_ID'], [10, 'MESSAGE_TOO_LARGE'], [22, 'ILLEGAL_GENERATION']] as const) {
      expect(kafkaErrorType(portError(new pk.ProtocolError(code)))).toBe(name);
    }
    expect(FENCED_ERRORS.has(kafkaErrorType(portError(new pk.ProtocolError('PRODUCER_FENCED'))))).toBe(true);
    // Under `cause` too (an error of the library's retrier around a broker error).
    expect(protocolErrorName(new pk.UserError('failed', { cause: new pk.ProtocolError('NOT_COORDINATOR') }))).toBe('NOT_COORDINATOR');
  });

  it('gives no type to errors that are not the broker\'s, tells network errors apart, and passes a mapped error on unchanged', () => {
    const network = new pk.NetworkError('Connection closed');
    expect(kafkaErrorType(portError(network))).toBe('');
    expect(isNetworkError(new pk.MultipleErrors('x', [network]))).toBe(true);
    expect(isNetworkError(new pk.ProtocolError('NOT_COORDINATOR'))).toBe(false);
    const mappedOnce = portError(new pk.ProtocolError('UNKNOWN_MEMBER_ID'));
    expect(portError(mappedOnce, 'again')).toBe(mappedOnce);
    expect(kafkaErrorType(portError(new Error('plain')))).toBe('');
  });
});

const batch = (b: Omit<Partial<pk.RecordsBatch>, 'records'> & { records: Partial<pk.KafkaRecord>[] }): pk.RecordsBatch => ({
  firstOffset: 0n,
  length: 0,
  partitionLeaderEpoch: 0,
  magic: 2,
  crc: 0,
  attributes: 0,
  lastOffsetDelta: b.records.length - 1,
  firstTimestamp: 1_000n,
  maxTimestamp: 2_000n,
  producerId: -1n,
  producerEpoch: -1,
  firstSequence: -1,
  ...b,
  records: b.records.map((r, i) => ({ length: 0, attributes: 0, timestampDelta: 0n, offsetDelta: i, key: null, value: null, headers: [], ...r })),
});

const controlKey = (type: 0 | 1) => {
  const k = Buffer.alloc(4);
  k.writeInt16BE(0, 0);
  k.writeInt16BE(type, 2);
  return k;
};

describe('fetched batches to raw records', () => {
  it('gives every record its offset, timestamp, headers and its batch\'s producer and transaction flags; skips what precedes the fetch offset', () => {
    const { records, end } = rawRecords(
      [
        batch({ firstOffset: 10n, records: [{ value: Buffer.from('a') }, { value: Buffer.from('b'), timestampDelta: 5n, headers: [[Buffer.from('h'), Buffer.from('1')], [Buffer.from('h'), Buffer.from('2')], [Buffer.from('n'), null]] }] }),
        batch({ firstOffset: 12n, attributes: 0x10, producerId: 7n, records: [{ value: Buffer.from('t') }] }),
        batch({ firstOffset: 13n, attributes: 0x10 | 0x20, producerId: 7n, records: [{ key: controlKey(1) }] }),
        batch({ firstOffset: 14n, attributes: 0x08, records: [{ value: Buffer.from('log-append'), timestampDelta: 3n }] }),
      ],
      11n,
    );
    expect(end).toBe(15n);
    expect(records.map((r) => [r.offset, r.value?.toString() ?? null, r.timestamp, r.isControlRecord, r.batchContext])).toEqual([
      ['11', 'b', '1005', false, { producerId: '-1', inTransaction: false }],
      ['12', 't', '1000', false, { producerId: '7', inTransaction: true }],
      ['13', null, '1000', true, { producerId: '7', inTransaction: true }],
      ['14', 'log-append', '2000', false, { producerId: '-1', inTransaction: false }],
    ]);
    expect(records[0]!.headers).toEqual({ h: [Buffer.from('1'), Buffer.from('2')] });
    expect(records[1]!.headers).toBeUndefined();
  });

  it("a batch's end is past its last record when compaction removed records at its end", () => {
    const { records, end } = rawRecords([batch({ firstOffset: 20n, lastOffsetDelta: 9, records: [{ value: Buffer.from('only') }] })], 25n);
    expect(records).toEqual([]);
    expect(end).toBe(30n);
  });

  it('with the fetch\'s aborted list, read_committed keeps exactly the committed records of what the library parsed', () => {
    // Producer 5: aborted [0,1] marker 2, committed [3] marker 4, aborted [5] marker 6; producer 9: committed [7] marker 8.
    const txn = (firstOffset: bigint, producerId: bigint, values: string[]) => batch({ firstOffset, attributes: 0x10, producerId, records: values.map((v) => ({ value: Buffer.from(v) })) });
    const marker = (firstOffset: bigint, producerId: bigint, type: 0 | 1) => batch({ firstOffset, attributes: 0x30, producerId, records: [{ key: controlKey(type) }] });
    const { records } = rawRecords([txn(0n, 5n, ['x1', 'x2']), marker(2n, 5n, 0), txn(3n, 5n, ['y']), marker(4n, 5n, 1), txn(5n, 5n, ['z']), marker(6n, 5n, 0), txn(7n, 9n, ['w']), marker(8n, 9n, 1)], 0n);
    const decided = readCommitted(records, [
      { producerId: '5', firstOffset: '0' },
      { producerId: '5', firstOffset: '5' },
    ]);
    expect(decided.map((r) => r.value!.toString())).toEqual(['y', 'w']);
  });
});

describe('produce conversions', () => {
  it("turns the port's messages into the library's (Buffers, bigint timestamps, header map) and its result into RecordMetadata", () => {
    const out = toOutgoing([{ topic: 't', messages: [{ key: 'k', value: 'v', partition: 2, timestamp: '1600000000000', headers: { a: 'x', b: Buffer.from('y'), c: undefined } }, { value: null }] }]);
    expect(out[0]).toEqual({ topic: 't', key: Buffer.from('k'), value: Buffer.from('v'), partition: 2, timestamp: 1600000000000n, headers: new Map([[Buffer.from('a'), Buffer.from('x')], [Buffer.from('b'), Buffer.from('y')]]) });
    expect(out[1]).toEqual({ topic: 't', value: undefined, headers: new Map() });
    expect(toRecordMetadata({ offsets: [{ topic: 't', partition: 2, offset: 41n }] })).toEqual([{ topicName: 't', partition: 2, errorCode: 0, baseOffset: '41' }]);
    expect(toRecordMetadata({})).toEqual([]);
  });
});

describe('security settings', () => {
  it("maps TLS (system CAs or a custom CA with a client certificate) and SASL to the library's options", () => {
    expect(platformaticSecurity(undefined)).toEqual({});
    expect(platformaticSecurity({ tls: true })).toEqual({ tls: {} });
    expect(platformaticSecurity({ tls: { ca: 'CA', cert: 'CERT', key: 'KEY', servername: 'kafka.local' }, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } })).toEqual({
      tls: { ca: ['CA'], cert: 'CERT', key: 'KEY' },
      tlsServerName: 'kafka.local',
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' },
    });
    expect(platformaticSecurity({ sasl: { mechanism: 'plain', username: 'u', password: 'p' } }).sasl?.mechanism).toBe('PLAIN');
    expect(platformaticSecurity({ sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' } }).sasl?.mechanism).toBe('SCRAM-SHA-256');
  });
});
