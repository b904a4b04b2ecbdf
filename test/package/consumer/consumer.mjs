// A JavaScript user of the installed package: the DSL, the test driver and the retail application.
import { Serdes, StreamsBuilder, TimeWindows, TopologyTestDriver, RetailStreamsError } from 'retail-streams';
import { buildKpiTopology, decodeInvoice, DATASETS } from 'retail-streams/retail';

const b = new StreamsBuilder();
b.stream('words', { keySerde: Serdes.string, valueSerde: Serdes.string })
  .groupBy((_k, word) => word, { keySerde: Serdes.string })
  .windowedBy(TimeWindows.tumbling(60_000, 0))
  .count()
  .suppressUntilWindowCloses()
  .toStream()
  .map((w, n) => [w.key, n])
  .to('counts', { keySerde: Serdes.string, valueSerde: Serdes.json() });
const driver = new TopologyTestDriver(b.build(), { partitions: { words: 2 }, wallClockStart: 0 });
const input = driver.createInputTopic('words', Serdes.string, Serdes.string);
for (const [i, w] of ['a', 'b', 'a', 'c', 'a'].entries()) input.pipeInput(null, w, { timestamp: 1_000 * i });
driver.endOfInput();
const counts = driver.createOutputTopic('counts', Serdes.string, Serdes.json()).readKeyValuesToList();
await driver.close();

let code;
try {
  const dup = new StreamsBuilder();
  dup.stream('in', { name: 's' });
  dup.stream('in2', { name: 's' });
  dup.build();
} catch (e) {
  code = e instanceof RetailStreamsError ? e.code : String(e);
}

const invoice = decodeInvoice(new TextEncoder().encode('{"invoice_no": 1, "country": "France", "timestamp": "2020-09-18 10:55:23", "type": "ORDER", "items": [{"SKU": "1", "title": "t", "unit_price": 2.5, "quantity": 2}]}'));
const kpi = buildKpiTopology({ inputTopic: 'invoices', windowMs: 60_000, graceMs: 0, lateRecords: { topic: 'late' } });
process.stdout.write(JSON.stringify({ counts, code, invoice: invoice.valid ? invoice.totalMicros : invoice.reason, datasets: DATASETS.time, kpiSubtopologies: (kpi.describe().match(/Sub-topology/g) ?? []).length }) + '\n');
