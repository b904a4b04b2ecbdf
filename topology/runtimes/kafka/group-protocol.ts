/**
 * The consumer group protocol's member metadata and member assignment (Kafka's ConsumerProtocol,
 * version 0 layout, as kafkajs's `AssignerProtocol` writes them): int16 version, the topics (or
 * topic -> partitions), then opaque user data. Written here so the runtime's assigners need no
 * value from the client library.
 */

export interface MemberMetadata {
  readonly version: number;
  readonly topics: readonly string[];
  readonly userData?: Buffer;
}

export interface MemberAssignment {
  readonly version: number;
  readonly assignment: Readonly<Record<string, readonly number[]>>;
  readonly userData?: Buffer;
}

class Writer {
  private readonly parts: Buffer[] = [];
  int16(n: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    this.parts.push(b);
    return this;
  }
  int32(n: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    this.parts.push(b);
    return this;
  }
  string(s: string): this {
    const bytes = Buffer.from(s, 'utf8');
    this.int16(bytes.length);
    this.parts.push(bytes);
    return this;
  }
  bytes(b: Buffer): this {
    this.int32(b.length);
    this.parts.push(b);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

class Reader {
  private at = 0;
  private readonly b: Buffer;
  constructor(b: Buffer) {
    this.b = b;
  }
  get remaining(): number {
    return this.b.length - this.at;
  }
  int16(): number {
    const n = this.b.readInt16BE(this.at);
    this.at += 2;
    return n;
  }
  int32(): number {
    const n = this.b.readInt32BE(this.at);
    this.at += 4;
    return n;
  }
  string(): string {
    const n = this.int16();
    const s = this.b.toString('utf8', this.at, this.at + n);
    this.at += n;
    return s;
  }
  bytes(): Buffer {
    const n = this.int32();
    if (n < 0) return Buffer.alloc(0);
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
}

export function encodeMemberMetadata(m: MemberMetadata): Buffer {
  const w = new Writer().int16(m.version).int32(m.topics.length);
  for (const t of m.topics) w.string(t);
  return w.bytes(m.userData ?? Buffer.alloc(0)).done();
}

export function decodeMemberMetadata(b: Buffer): MemberMetadata {
  const r = new Reader(b);
  const version = r.int16();
  const topics: string[] = [];
  for (let n = r.int32(); n > 0; n--) topics.push(r.string());
  return { version, topics, userData: r.remaining >= 4 ? r.bytes() : Buffer.alloc(0) };
}

export function encodeMemberAssignment(a: MemberAssignment): Buffer {
  const topics = Object.entries(a.assignment);
  const w = new Writer().int16(a.version).int32(topics.length);
  for (const [topic, partitions] of topics) {
    w.string(topic).int32(partitions.length);
    for (const p of partitions) w.int32(p);
  }
  return w.bytes(a.userData ?? Buffer.alloc(0)).done();
}

/** Null for an empty buffer: a member the leader gave nothing. */
export function decodeMemberAssignment(b: Buffer): MemberAssignment | null {
  if (b.length < 2) return null;
  const r = new Reader(b);
  const version = r.int16();
  const assignment: Record<string, number[]> = {};
  for (let n = r.int32(); n > 0; n--) {
    const topic = r.string();
    const partitions: number[] = [];
    for (let k = r.int32(); k > 0; k--) partitions.push(r.int32());
    assignment[topic] = partitions;
  }
  return { version, assignment, userData: r.remaining >= 4 ? r.bytes() : Buffer.alloc(0) };
}
