// Two KafkaStreams instances in one group on the fake broker, with standby replicas: the group
// protocol carries what each holds, the leader's assignor places standbys, and when a member
// dies its tasks move to the member that kept them warm.
import { describe, expect, it, vi } from 'vitest';
import { KafkaStreams } from '../../../topology/runtimes/kafka/kafka-streams.ts';
import { FakeBroker } from '../../support/fake-kafka.ts';
import { counting, memoryLog, tempStateDir } from './harness.ts';

const T0 = Date.UTC(2019, 6, 1);


function instance(broker: FakeBroker, name: string) {
  const { log, lines } = memoryLog();
  const streams = new KafkaStreams(counting(), {
    applicationId: 'app',
    bootstrapServers: 'fake:9092',
    client: broker.client,
    logger: log,
    stateDir: tempStateDir(),
    defaultStore: 'rocksdb',
    numStandbyReplicas: 1,
    punctuateIntervalMs: 20,
  });
  return { name, streams, lines };
}

const waitFor = (f: () => void) => vi.waitFor(f, { timeout: 10_000, interval: 10 });

/** The latest count per key on `out`. */
const latest = (broker: FakeBroker) => {
  const m = new Map<string, number>();
  for (const r of broker.records('out')) m.set(r.key!.toString(), Number(r.value!.toString()));
  return m;
};

describe('standby replicas across two instances', () => {
  it('each keeps a warm copy of the other’s task; when one dies the other takes it over from its standby, restoring only the tail', async () => {
    const broker = new FakeBroker();
    broker.createTopic('in', 2);
    const a = instance(broker, 'a');
    const b = instance(broker, 'b');
    await a.streams.start();
    await waitFor(() => expect(a.streams.state).toBe('RUNNING'));
    await b.streams.start();
    // The leader (a) spread the two tasks and put each one's standby on the other member.
    await waitFor(() => {
      expect(a.lines.some((l) => /joined group app: in\/\d; standby tasks 0_\d/.test(l))).toBe(true);
      expect(b.lines.some((l) => /joined group app: in\/\d; standby tasks 0_\d/.test(l))).toBe(true);
    });
    expect(a.lines).toContainEqual(expect.stringMatching(/assigned 2 tasks to 2 member\(s\): consumer-\d: active 0_\d; standby 0_\d \| consumer-\d: active 0_\d; standby 0_\d/));
    const aTask = /joined group app: in\/(\d); standby tasks 0_(\d)/.exec(a.lines.filter((l) => /joined group app: in\/\d; standby/.test(l)).at(-1)!)!;
    const [aActive, aStandby] = [Number(aTask[1]), Number(aTask[2])];
    expect(aActive).not.toBe(aStandby);

    let n = 0;
    const produce = (partition: number, count: number) => {
      for (let i = 0; i < count; i++) broker.produce('in', partition, { key: `k${partition}-${i % 50}`, value: 'x', timestamp: T0 + n++ });
    };
    produce(0, 300);
    produce(1, 300);
    // Everything committed, and b's standby of a's task has applied a's changelog to its end.
    await waitFor(() => {
      expect(broker.committed('app').get('in/0')).toBe('300');
      expect(broker.committed('app').get('in/1')).toBe('300');
      expect(b.streams.metrics().get(`standby-lag{task="0_${aActive}"}`)).toBe(0);
    });
    expect(b.streams.metrics().get('standby-records-applied')).toBeGreaterThan(0);

    // a dies as with kill -9; b gets both tasks, a's from its standby.
    broker.kill(0); // the first client made: a's
    await waitFor(() => expect(b.lines).toContainEqual(expect.stringMatching(new RegExp(`task 0_${aActive}: taking over the stores of its standby`))));
    await waitFor(() => expect(b.lines).toContainEqual(`info task 0_${aActive} started`));
    // Its standby was at the end: nothing of a's changelog is read again.
    const restores = b.lines.filter((l) => new RegExp(`restored \\d+ changelog entries of counts from app-counts-changelog\\[${aActive}\\]`).test(l));
    expect(restores).toEqual([]);
    produce(aActive, 100);
    await waitFor(() => expect(broker.committed('app').get(`in/${aActive}`)).toBe('400'));
    const counts = latest(broker);
    // 400 records over 50 keys of that partition: 8 each; the other partition's keys 6 each.
    for (let i = 0; i < 50; i++) expect(counts.get(`k${aActive}-${i}`), `k${aActive}-${i}`).toBe(8);
    for (let i = 0; i < 50; i++) expect(counts.get(`k${aStandby}-${i}`), `k${aStandby}-${i}`).toBe(6);
    if (process.env.SHOW_LOGS) console.log(`a:\n${a.lines.join('\n')}\nb:\n${b.lines.join('\n')}`);
    await b.streams.close();
    await a.streams.close();
  });
});
