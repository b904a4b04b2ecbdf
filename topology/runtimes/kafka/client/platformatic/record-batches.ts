/**
 * Kafka record batches (magic v2) decoded straight from the fetch response's bytes into the
 * records the consumer delivers. This is the consumer's hot path: the library's decoder reads
 * every varint through a multi-chunk buffer and returns a [value, length] pair per call, then
 * builds a record object that the adapter would turn into another one; here a record costs one
 * object, its key and value are views of the response (no copy), offsets and timestamps are
 * plain numbers until the one string the port carries. A compressed batch, one whose offsets
 * pass 2^53, or one of another magic goes through the library's decoder instead (`rawRecords`),
 * batch by batch.
 *
 * Layout (KIP-98): baseOffset int64, batchLength int32, partitionLeaderEpoch int32, magic int8,
 * crc uint32, attributes int16, lastOffsetDelta int32, baseTimestamp int64, maxTimestamp int64,
 * producerId int64, producerEpoch int16, baseSequence int32, records count int32, then per
 * record: length varint, attributes int8, timestampDelta varlong, offsetDelta varint, key
 * (varint length, -1 for null), value (the same), header count varint, headers (key, value).
 */
import * as pk from '@platformatic/kafka';
import type { RawRecord } from '../read-committed.ts';

/** A fetched record as the consumer delivers it (control records included, for read_committed). */
export interface FetchedRecord extends RawRecord {
  readonly value: Buffer | null;
  readonly timestamp: string;
  readonly headers: Record<string, Buffer | Buffer[]> | undefined;
}

const HEADER = 61;
/** Everything after baseOffset and batchLength belongs to the batch's length. */
const LOG_OVERHEAD = 12;
const COMPRESSION = 0x07;
const LOG_APPEND_TIME = 0x08;
const IS_TRANSACTIONAL = 0x10;
const IS_CONTROL = 0x20;
/** Offsets and timestamps stay exact as numbers below this (2^53 less the largest delta). */
const SAFE = Number.MAX_SAFE_INTEGER - 2 ** 31;

/** Adds a header to a record's headers (made on the first); a name given twice keeps every value, in order. */
function addHeader(headers: Record<string, Buffer | Buffer[]> | undefined, name: string, v: Buffer): Record<string, Buffer | Buffer[]> {
  const out = headers ?? {};
  const had = out[name];
  out[name] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
  return out;
}

/** A cursor over one buffer: the varints of the record format, zig-zag decoded. */
class Cursor {
  pos: number;
  private readonly buf: Buffer;
  constructor(buf: Buffer, pos: number) {
    this.buf = buf;
    this.pos = pos;
  }

  /** A signed varint (int32 range). */
  varint(): number {
    const b = this.buf;
    let shift = 0;
    let u = 0;
    for (;;) {
      if (this.pos >= b.length) throw new RangeError('record batch: varint past the end');
      const byte = b[this.pos++]!;
      u |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7;
      if (shift > 28) throw new RangeError('record batch: varint longer than 5 bytes');
    }
    return (u >>> 1) ^ -(u & 1);
  }

  /** A signed varlong, exact within the safe integers (timestamp deltas). */
  varlong(): number {
    const b = this.buf;
    let scale = 1;
    let u = 0;
    for (let i = 0; ; i++) {
      if (this.pos >= b.length) throw new RangeError('record batch: varlong past the end');
      const byte = b[this.pos++]!;
      u += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) break;
      scale *= 128;
      if (i >= 9) throw new RangeError('record batch: varlong longer than 10 bytes');
    }
    // zig-zag: even -> u/2, odd -> -(u+1)/2 (u is exact below 2^53)
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  /** Length-prefixed bytes as a view of the buffer, or null for length -1. */
  bytes(): Buffer | null {
    const n = this.varint();
    if (n < 0) return null;
    const start = this.pos;
    this.pos += n;
    if (this.pos > this.buf.length) throw new RangeError('record batch: bytes past the end');
    return this.buf.subarray(start, this.pos);
  }
}

/**
 * The records of the complete batches in `buf` from offset `from` on (control records
 * included, for read_committed), and the offset after the last batch: a partial batch at the
 * end (a fetch cut at its byte limit) is left for the next fetch, as the protocol intends.
 */
export function decodeRecordBatches(buf: Buffer, from: bigint): { records: FetchedRecord[]; end: bigint } {
  const records: FetchedRecord[] = [];
  let end = from;
  const fromNumber = Number(from);
  let pos = 0;
  while (buf.length - pos >= HEADER) {
    const batchLength = buf.readInt32BE(pos + 8);
    const batchEnd = pos + LOG_OVERHEAD + batchLength;
    if (batchEnd > buf.length) break;
    const baseOffset = buf.readBigInt64BE(pos);
    const attributes = buf.readInt16BE(pos + 21);
    const lastOffsetDelta = buf.readInt32BE(pos + 23);
    const next = baseOffset + BigInt(lastOffsetDelta) + 1n;
    if (next > end) end = next;
    if ((attributes & COMPRESSION) !== 0 || baseOffset > BigInt(SAFE) || buf[pos + 16] !== 2) {
      // The library's decoder (and its codecs) for this one batch.
      const batches = pk.readRecordsBatches(pk.Reader.from(buf.subarray(pos, batchEnd)));
      for (const r of rawRecords(batches, from).records) records.push(r);
      pos = batchEnd;
      continue;
    }
    const base = Number(baseOffset);
    const baseTimestamp = Number(buf.readBigInt64BE(pos + 27));
    const appendTime = (attributes & LOG_APPEND_TIME) !== 0 ? String(buf.readBigInt64BE(pos + 35)) : undefined;
    const batchContext = { producerId: String(buf.readBigInt64BE(pos + 43)), inTransaction: (attributes & IS_TRANSACTIONAL) !== 0 };
    const isControlRecord = (attributes & IS_CONTROL) !== 0;
    const count = buf.readInt32BE(pos + 57);
    const c = new Cursor(buf, pos + HEADER);
    for (let i = 0; i < count; i++) {
      const length = c.varint();
      const recordEnd = c.pos + length;
      c.pos++; // record attributes: unused in v2
      const timestampDelta = c.varlong();
      const offset = base + c.varint();
      const key = c.bytes();
      const value = c.bytes();
      const headerCount = c.varint();
      let headers: Record<string, Buffer | Buffer[]> | undefined;
      for (let h = 0; h < headerCount; h++) {
        const k = c.bytes();
        const v = c.bytes();
        if (k !== null && v !== null) headers = addHeader(headers, k.toString('utf8'), v);
      }
      c.pos = recordEnd;
      if (offset < fromNumber) continue;
      records.push({ offset: String(offset), key, value, timestamp: appendTime ?? String(baseTimestamp + timestampDelta), headers, isControlRecord, batchContext });
    }
    pos = batchEnd;
  }
  return { records, end };
}

/** Batches the library decoded (the compressed ones), their records from `from` on, as read_committed's raw records (control records included). */
export function rawRecords(batches: readonly pk.RecordsBatch[], from: bigint): { records: FetchedRecord[]; end: bigint } {
  const records: FetchedRecord[] = [];
  let end = from;
  for (const b of batches) {
    const batchEnd = b.firstOffset + BigInt(b.lastOffsetDelta) + 1n;
    if (batchEnd > end) end = batchEnd;
    const control = (b.attributes & IS_CONTROL) !== 0;
    const batchContext = { producerId: String(b.producerId), inTransaction: (b.attributes & IS_TRANSACTIONAL) !== 0 };
    const appendTime = (b.attributes & LOG_APPEND_TIME) !== 0;
    for (const r of b.records) {
      const offset = b.firstOffset + BigInt(r.offsetDelta);
      if (offset < from) continue;
      let headers: Record<string, Buffer | Buffer[]> | undefined;
      for (const [k, v] of r.headers) if (k !== null && v !== null) headers = addHeader(headers, k.toString('utf8'), v);
      records.push({
        offset: String(offset),
        key: r.key,
        value: r.value,
        timestamp: String(appendTime ? b.maxTimestamp : b.firstTimestamp + r.timestampDelta),
        headers,
        isControlRecord: control,
        batchContext,
      });
    }
  }
  return { records, end };
}
