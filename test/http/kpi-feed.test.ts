import { describe, expect, it } from 'vitest';
import { KpiFeed } from '../../cli/http/kpi-feed.ts';
import { countryKpi, timeKpi } from '../../processors/kpi.ts';
import { memoryLog } from '../support/memory-log.ts';

const W = 60_000;
const T0 = Date.UTC(2020, 8, 18, 10, 0);
const topics = { time: 'kpi-time', country: 'kpi-time-country', late: 'invoices-late', deadLetter: 'invoices-dead-letter' };
const feed = () => new KpiFeed({ brokers: ['127.0.0.1:1'], topics, inputTopic: 'invoices', groupId: 'g', windowMs: W, log: memoryLog().log });
const time = (start: number, invoices: number) => ({ topic: topics.time, value: Buffer.from(JSON.stringify(timeKpi(start, W, { invoices, returns: 0, micros: invoices * 1_000_000 }))) });
const country = (start: number, name: string, invoices: number) => ({ topic: topics.country, value: Buffer.from(JSON.stringify(countryKpi(start, W, name, { invoices, returns: 0, micros: invoices * 1_000_000 }))) });

describe('KpiFeed', () => {
  it('keeps the latest KPI per window and country, as the compacted topics do', () => {
    const f = feed();
    const updates = f.apply([time(T0, 1), time(T0, 5), country(T0, 'EIRE', 1), country(T0, 'EIRE', 2), { topic: topics.time, value: null }]);
    expect(updates).toHaveLength(4);
    const s = f.snapshot();
    expect(s.time.map((k) => k.OPM)).toEqual([5]);
    expect(s.countries.map((k) => [k.country, k.OPM])).toEqual([['EIRE', 2]]);
    expect(f.newestWindow()).toBe(T0);
  });

  it('keeps an hour of time KPIs, and countries of the newest window and the one before', () => {
    const f = feed();
    f.apply(Array.from({ length: 70 }, (_, i) => time(T0 + i * W, i + 1)));
    f.apply([country(T0 + 67 * W, 'France', 1), country(T0 + 68 * W, 'France', 2), country(T0 + 69 * W, 'Spain', 3)]);
    const s = f.snapshot();
    expect(s.time).toHaveLength(60);
    expect(s.time[0]!.window.start).toBe(new Date(T0 + 10 * W).toISOString());
    expect(s.countries.map((k) => [k.window.start.slice(11, 16), k.country])).toEqual([
      ['11:09', 'Spain'],
      ['11:08', 'France'],
    ]);
  });

  it('skips a record it cannot read', () => {
    const { log, lines } = memoryLog();
    const f = new KpiFeed({ brokers: ['127.0.0.1:1'], topics, inputTopic: 'invoices', groupId: 'g', windowMs: W, log });
    expect(f.apply([{ topic: topics.time, value: Buffer.from('{not json') }, time(T0, 2)])).toHaveLength(1);
    expect(lines.some((l) => l.includes('unreadable KPI record'))).toBe(true);
  });

  it('says Kafka is unreachable when nothing answers, without throwing', async () => {
    const f = new KpiFeed({ brokers: ['127.0.0.1:9'], topics, inputTopic: 'invoices', groupId: 'g', windowMs: W, log: memoryLog().log, pollMs: 200 });
    const seen = new Promise((resolve) => f.onStatus(resolve));
    f.start();
    await seen;
    expect(f.status().kafka.reachable).toBe(false);
    expect(f.status().kafka.error).toMatch(/ECONNREFUSED|connect/i);
    await f.close();
  });
});
