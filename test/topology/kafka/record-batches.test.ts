// The consumer's own record batch decoder against the library's: batches the library writes
// (createRecordsBatch), read by both, must give the same records, however they are cut.
import * as pk from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { decodeRecordBatches, rawRecords } from '../../../topology/runtimes/kafka/client/platformatic/record-batches.ts';

type Message = { key?: Buffer; value?: Buffer; timestamp: bigint; headers?: Map<Buffer, Buffer> };

/** One batch as the library writes it, at `base`, with attributes bits added (control, LogAppendTime). */
function batch(base: bigint, messages: Message[], o: { transactional?: boolean; producerId?: bigint; compression?: 'gzip'; extraAttributes?: number } = {}): Buffer {
  const written = pk.createRecordsBatch(
    messages.map((m) => ({ topic: 't', partition: 0, ...m })) as never,
    { ...(o.transactional ? { transactionalId: 'tx' } : {}), producerId: o.producerId ?? -1n, ...(o.compression ? { compression: o.compression } : {}) } as never,
  ) as unknown as { buffer: Buffer };
  const buf = Buffer.from(written.buffer);
  buf.writeBigInt64BE(base, 0);
  if (o.extraAttributes !== undefined) buf.writeInt16BE(buf.readInt16BE(21) | o.extraAttributes, 21);
  return buf;
}

const msgs = (n: number, t0: bigint, f: (i: number) => Partial<Message> = () => ({})): Message[] =>
  Array.from({ length: n }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`{"invoice_no": ${i}, "country": "Côte d'Ivoire"}`), timestamp: t0 + BigInt(i * 7), ...f(i) }));

const plain = (records: ReturnType<typeof rawRecords>['records']) => records.map((r) => ({ ...r, key: r.key?.toString('hex') ?? null, value: r.value?.toString('hex') ?? null, headers: r.headers === undefined ? undefined : Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => x.toString('hex')) : v.toString('hex')])) }));

const library = (buf: Buffer, from: bigint) => rawRecords(pk.readRecordsBatches(pk.Reader.from(buf)), from);

describe('decodeRecordBatches', () => {
  const T = 1_600_000_000_000n;
  const data = Buffer.concat([
    batch(100n, msgs(5, T)),
    // null keys, empty values, repeated and non-ASCII header names, timestamps before the first (negative deltas)
    batch(105n, msgs(4, T + 50_000n, (i) => ({ ...(i % 2 === 0 ? { key: undefined } : {}), ...(i === 3 ? { value: Buffer.alloc(0) } : {}), timestamp: T + 50_000n - BigInt(i * 90_000_000), headers: new Map([[Buffer.from('rs-reason'), Buffer.from('x')], [Buffer.from('rs-reason'), Buffer.from('y')], [Buffer.from('größe'), Buffer.from([0, 255])]]) }))),
    batch(109n, msgs(3, T), { transactional: true, producerId: 4242n }),
    // an ABORT marker: a control batch of one record whose key is version 0, type 0
    batch(112n, [{ key: Buffer.from([0, 0, 0, 0]), value: Buffer.from([0, 0, 0, 0, 0, 0]), timestamp: T }], { transactional: true, producerId: 4242n, extraAttributes: 0x20 }),
    // LogAppendTime: every record has the batch's max timestamp
    batch(113n, msgs(3, T + 9n), { extraAttributes: 0x08 }),
    // compressed: through the library's codecs
    batch(116n, msgs(6, T + 1n), { compression: 'gzip' }),
  ]);

  it('gives the records, offsets, timestamps, headers and transaction marks the library gives', () => {
    const ours = decodeRecordBatches(data, 100n);
    const theirs = library(data, 100n);
    expect(ours.end).toBe(122n);
    expect(theirs.end).toBe(122n);
    expect(ours.records).toHaveLength(5 + 4 + 3 + 1 + 3 + 6);
    expect(plain(ours.records)).toEqual(plain(theirs.records));
    // The cases themselves, so that agreement is not agreement on nothing.
    expect(ours.records.filter((r) => r.isControlRecord)).toHaveLength(1);
    expect(ours.records.filter((r) => r.batchContext.inTransaction).map((r) => r.batchContext.producerId)).toEqual(['4242', '4242', '4242', '4242']);
    expect(ours.records[5]!.key).toBeNull();
    expect(Number(ours.records[7]!.timestamp)).toBeLessThan(Number(T));
    expect(ours.records[5]!.headers!['rs-reason']).toHaveLength(2);
    expect(new Set(ours.records.slice(13, 16).map((r) => r.timestamp))).toEqual(new Set([String(T + 9n + 14n)]));
  });

  it('starts at the fetch offset inside a batch and leaves a batch cut at the end for the next fetch', () => {
    expect(plain(decodeRecordBatches(data, 107n).records)).toEqual(plain(library(data, 107n).records));
    expect(decodeRecordBatches(data, 107n).records[0]!.offset).toBe('107');
    const first = batch(100n, msgs(5, T)).length;
    for (const cut of [first - 1, first, first + 10, data.length - 1]) {
      const ours = decodeRecordBatches(data.subarray(0, cut), 100n);
      const theirs = library(data.subarray(0, cut), 100n);
      expect(plain(ours.records)).toEqual(plain(theirs.records));
      expect(ours.end).toBe(theirs.end);
    }
    expect(decodeRecordBatches(data.subarray(0, 30), 100n)).toEqual({ records: [], end: 100n });
  });

  it('reads keys and values as views of the fetched bytes, not copies', () => {
    const r = decodeRecordBatches(data, 100n).records[0]!;
    expect(r.value!.buffer).toBe(data.buffer);
  });
});
