import { describe, expect, it } from 'vitest';
import { parseMetricKey, streamsPrometheusRegistry, type MetricsSource } from '../../../topology/runtimes/kafka/prometheus.ts';

function source(entries: Record<string, number>, state = 'RUNNING') {
  const map = new Map(Object.entries(entries));
  const listeners = new Set<(m: string, ms: number) => void>();
  const s: MetricsSource & { map: Map<string, number>; state: string; observe(m: string, ms: number): void } = {
    map,
    state,
    metrics: () => map,
    onObservation: (l) => {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
    observe: (m, ms) => {
      for (const l of listeners) l(m, ms);
    },
  };
  return s;
}

/** The sample lines of a text exposition, without comments and blank lines. */
const samples = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

describe('parseMetricKey', () => {
  it('splits a metrics-map key into its name and labels', () => {
    expect(parseMetricKey('records-in{topic="invoices",task="0_1"}')).toEqual({ name: 'records-in', labels: { topic: 'invoices', task: '0_1' }, labelText: 'topic="invoices",task="0_1"' });
    expect(parseMetricKey('late-records')).toEqual({ name: 'late-records', labels: {}, labelText: '' });
  });
});

describe('streamsPrometheusRegistry', () => {
  it('exports the metrics map as typed Prometheus families, labelled, with the application id', async () => {
    const s = source({
      'records-processed': 120,
      'late-records': 3,
      'dead-letter-records': 2,
      rebalances: 1,
      'records-in{topic="invoices",task="0_1"}': 100,
      'records-out{topic="kpi-time",task="1_0"}': 7,
      'consumer-lag{topic="invoices",partition="1"}': 42,
      'state-store-entries{task="1_0",store="kpi-time-store"}': 5,
      'restore-records-restored': 10,
      'restore-records-restored{task="1_0"}': 10,
      'valid-records': 115,
      'odd-gauge{x="y"}': 9,
    });
    const registry = streamsPrometheusRegistry(s, { applicationId: 'retail' });
    const text = await registry.metrics();
    const lines = samples(text);
    expect(lines).toEqual(
      expect.arrayContaining([
        'retail_streams_records_processed_total{application_id="retail"} 120',
        'retail_streams_late_records_total{application_id="retail"} 3',
        'retail_streams_dead_letter_records_total{application_id="retail"} 2',
        'retail_streams_rebalances_total{application_id="retail"} 1',
        'retail_streams_records_consumed_total{topic="invoices",task="0_1",application_id="retail"} 100',
        'retail_streams_records_produced_total{topic="kpi-time",task="1_0",application_id="retail"} 7',
        'retail_streams_consumer_lag{topic="invoices",partition="1",application_id="retail"} 42',
        'retail_streams_state_store_entries{task="1_0",store="kpi-time-store",application_id="retail"} 5',
        'retail_streams_restore_records_restored_total{application_id="retail"} 10',
        'retail_streams_task_restore_records_restored{task="1_0",application_id="retail"} 10',
        'retail_streams_processor_records_total{name="valid-records",application_id="retail"} 115',
        'retail_streams_metric{name="odd-gauge",labels="x=\\"y\\"",application_id="retail"} 9',
        'retail_streams_state{state="RUNNING",application_id="retail"} 1',
        'retail_streams_state{state="REBALANCING",application_id="retail"} 0',
      ]),
    );
    expect(text).toMatch(/# TYPE retail_streams_records_consumed_total counter/);
    expect(text).toMatch(/# TYPE retail_streams_consumer_lag gauge/);
  });

  it('reads the map again at every scrape: values move, series of tasks gone go', async () => {
    const s = source({ 'records-in{topic="t",task="0_0"}': 1, 'consumer-lag{topic="t",partition="0"}': 5 });
    const registry = streamsPrometheusRegistry(s, { applicationId: 'a' });
    expect(samples(await registry.metrics())).toContain('retail_streams_records_consumed_total{topic="t",task="0_0",application_id="a"} 1');
    s.map.set('records-in{topic="t",task="0_0"}', 50);
    s.map.delete('consumer-lag{topic="t",partition="0"}');
    s.state = 'REBALANCING';
    const after = samples(await registry.metrics());
    expect(after).toContain('retail_streams_records_consumed_total{topic="t",task="0_0",application_id="a"} 50');
    expect(after.some((l) => l.startsWith('retail_streams_consumer_lag{'))).toBe(false);
    expect(after).toContain('retail_streams_state{state="REBALANCING",application_id="a"} 1');
  });

  it('turns latency observations into histograms, in seconds', async () => {
    const s = source({});
    const registry = streamsPrometheusRegistry(s, { applicationId: 'a' });
    s.observe('process-latency-ms', 3);
    s.observe('process-latency-ms', 40);
    s.observe('commit-latency-ms', 200);
    const lines = samples(await registry.metrics());
    expect(lines).toContain('retail_streams_process_latency_seconds_count{application_id="a"} 2');
    expect(lines).toContain('retail_streams_process_latency_seconds_bucket{le="0.005",application_id="a"} 1');
    expect(lines).toContain('retail_streams_process_latency_seconds_bucket{le="0.05",application_id="a"} 2');
    expect(lines).toContain('retail_streams_commit_latency_seconds_count{application_id="a"} 1');
    expect(lines).toContain('retail_streams_commit_latency_seconds_sum{application_id="a"} 0.2');
  });

  it("adds Node's process metrics when asked", async () => {
    const registry = streamsPrometheusRegistry(source({}), { applicationId: 'a', defaultMetrics: true });
    expect(await registry.metrics()).toMatch(/^process_cpu_user_seconds_total/m);
  });
});
