// A TypeScript user of the installed package, type-checked by tsc (strict, nodenext, no skipLibCheck).
import { Serdes, StreamsBuilder, TimeWindows, TopologyTestDriver, type KStream, type Serde, type Windowed } from 'retail-streams';
import { buildKpiTopology, type TimeKpi } from 'retail-streams/retail';

interface Order {
  readonly customer: string;
  readonly total: number;
}

const str = Serdes.string as Serde<string>;
const b = new StreamsBuilder();
const orders: KStream<string, Order> = b.stream<string, Order>('orders', { keySerde: str, valueSerde: Serdes.json<Order>() });
const totals: KStream<string, number> = orders.mapValues((o) => o.total);
totals
  .groupByKey()
  .windowedBy(TimeWindows.tumbling(60_000))
  .reduce((a, b2) => a + b2)
  .toStream()
  .map((w: Windowed<string>, sum: number) => [w.key, Math.round(sum * 100) / 100] as const)
  .to('totals', { keySerde: str, valueSerde: Serdes.json<number>() });

const driver = new TopologyTestDriver(b.build(), { wallClockStart: 0 });
const input = driver.createInputTopic('orders', str, Serdes.json<Order>());
input.pipeInput('ann', { customer: 'ann', total: 10.25 }, { timestamp: 1_000 });
input.pipeInput('ann', { customer: 'ann', total: 5 }, { timestamp: 2_000 });
const sums: [string, number][] = driver.createOutputTopic('totals', str, Serdes.json<number>()).readKeyValuesToList();
await driver.close();

const kpi = buildKpiTopology({ inputTopic: 'invoices', windowMs: 60_000, graceMs: 0, lateRecords: { topic: 'late' } });
const sample: Pick<TimeKpi, 'OPM'> = { OPM: 1 };
process.stdout.write(JSON.stringify({ sums, kpi: kpi.describe().includes('invoices'), sample }) + '\n');
