/**
 * The broker's own limits on this machine, with Kafka's perf tools (JVM clients): how fast it
 * takes invoice-sized records (kafka-producer-perf-test, payloads drawn from real invoices) and
 * how fast it serves the preloaded topic (kafka-consumer-perf-test, a fresh group each time).
 */
import { kafkaSh } from './support/kafka.ts';

export interface ProducerPerf {
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly avgLatencyMs: number;
}

export interface ConsumerPerf {
  /** Records/s over the whole run of the tool, group join included. */
  readonly recordsPerSec: number;
  /** Records/s over fetching only (the tool's fetch.nMsg.sec). */
  readonly fetchRecordsPerSec: number;
  readonly mbPerSec: number;
}

export async function producerPerf(o: { bootstrap: string; topic: string; records: number; payloadFile: string }): Promise<ProducerPerf> {
  const out = await kafkaSh(
    ['perf-producer', '--topic', o.topic, '--num-records', String(o.records), '--throughput', '-1',
      '--payload-file', o.payloadFile, '--payload-delimiter', '\n', '--producer-props', `bootstrap.servers=${o.bootstrap}`, 'acks=all'],
    10 * 60_000,
  );
  // "1000000 records sent, 221729.5 records/sec (89.12 MB/sec), 190.5 ms avg latency, ..."
  const m = /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency/.exec(out);
  if (m === null) throw new Error(`kafka-producer-perf-test printed no summary:\n${out.slice(-1500)}`);
  return { recordsPerSec: Number(m[2]), mbPerSec: Number(m[3]), avgLatencyMs: Number(m[4]) };
}

export async function consumerPerf(o: { bootstrap: string; topic: string; records: number; group: string }): Promise<ConsumerPerf> {
  const out = await kafkaSh(
    ['perf-consumer', '--bootstrap-server', o.bootstrap, '--topic', o.topic, '--num-records', String(o.records), '--group', o.group, '--timeout', '30000'],
    10 * 60_000,
  );
  // header: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const lines = out.trim().split('\n');
  const header = lines.findIndex((l) => l.startsWith('start.time'));
  const row = lines[header + 1]?.split(',').map((s) => s.trim());
  if (header < 0 || row === undefined || row.length < 10) throw new Error(`kafka-consumer-perf-test printed no summary:\n${out.slice(-1500)}`);
  const consumed = Number(row[4]);
  if (consumed < o.records) throw new Error(`kafka-consumer-perf-test read ${consumed} of ${o.records} records`);
  return { recordsPerSec: Number(row[5]), fetchRecordsPerSec: Number(row[9]), mbPerSec: Number(row[3]) };
}
