// Page views per minute, run without a broker on the test driver: node examples/page-views/main.ts
// The same topology runs on Kafka with `new KafkaStreams(pageViewTopology(), { applicationId, bootstrapServers })`.
import { Serdes, TopologyTestDriver, type Serde } from 'retail-streams';
import { PAGE_VIEW_COUNTS, PAGE_VIEWS, pageViewCountSerde, pageViewSerde, pageViewTopology, type PageView } from './page-views.ts';

const topology = pageViewTopology({ windowMs: 60_000, graceMs: 10_000 });
console.log(topology.describe());

// Two partitions, as a topic of two partitions on Kafka; the driver keeps stream time per partition.
const driver = new TopologyTestDriver(topology, { partitions: { [PAGE_VIEWS]: 2 } });
const views = driver.createInputTopic(PAGE_VIEWS, Serdes.string, pageViewSerde);
const counts = driver.createOutputTopic(PAGE_VIEW_COUNTS, Serdes.string as Serde<string>, pageViewCountSerde);

const t0 = Date.UTC(2024, 0, 1, 12, 0, 0);
const sample: [user: string, view: PageView, secondsAfterT0: number][] = [
  ['alice', { page: '/home', user: 'alice' }, 5],
  ['bob', { page: '/home', user: 'bob' }, 20],
  ['alice', { page: '/cart', user: 'alice' }, 42],
  ['carol', { page: '/home', user: 'carol' }, 61],
  ['bob', { page: '/home', user: 'bob' }, 59], // out of order, still in its window: counted
  ['dave', { page: '/cart', user: 'dave' }, 130],
];
for (const [user, view, s] of sample) views.pipeInput(user, view, { timestamp: t0 + s * 1000 });
// A finite input ends: every open window closes and is written.
driver.endOfInput();

for (const c of counts.readValuesToList()) console.log(`${c.windowStart} ${c.page.padEnd(6)} ${c.views}`);
await driver.close();
