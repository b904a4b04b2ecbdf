import { Stores, type StoreBuilder } from '../../state-stores/stores.ts';
import { parentsOf, type GraphNode, type InternalTopic } from './graph.ts';
import { TopologyError } from '../api/errors.ts';

export interface Subtopology {
  readonly id: number;
  /**
   * A logged store keeping the task's stream time, for sub-topologies that read input topics
   * and hold state or feed repartition topics: a restarted or moved task resumes its watermark,
   * and decides lateness as before the move.
   */
  readonly streamTimeStore?: string;
  /** Node names in an order where every parent comes before its children. */
  readonly nodes: readonly string[];
  readonly sourceTopics: readonly string[];
  readonly sinkTopics: readonly string[];
  readonly stores: readonly string[];
}

/** A validated, runnable topology: the output of `StreamsBuilder.build()`. */
export class Topology {
  readonly nodes: ReadonlyMap<string, GraphNode>;
  readonly children: ReadonlyMap<string, readonly string[]>;
  readonly stores: ReadonlyMap<string, StoreBuilder>;
  private readonly storeBuilders: Map<string, StoreBuilder>;
  readonly internalTopics: ReadonlyMap<string, InternalTopic>;
  readonly subtopologies: readonly Subtopology[];

  constructor(nodes: readonly GraphNode[], stores: readonly StoreBuilder[], internalTopics: readonly InternalTopic[]) {
    const byName = new Map<string, GraphNode>();
    for (const n of nodes) {
      if (byName.has(n.name)) throw new TopologyError('duplicate-name', `two nodes are named ${n.name}`);
      byName.set(n.name, n);
    }
    const storeMap = new Map<string, StoreBuilder>();
    for (const s of stores) {
      if (storeMap.has(s.name)) throw new TopologyError('duplicate-name', `two stores are named ${s.name}`);
      storeMap.set(s.name, s);
    }
    const children = new Map<string, string[]>();
    for (const n of nodes) children.set(n.name, []);
    for (const n of nodes) {
      for (const p of parentsOf(n)) {
        if (!byName.has(p)) throw new TopologyError('unknown-node', `${n.name} names an unknown parent ${p}`);
        children.get(p)!.push(n.name);
      }
      if (n.kind === 'processor')
        for (const s of n.stores) if (!storeMap.has(s)) throw new TopologyError('unknown-store', `${n.name} uses an unknown store ${s}`);
    }
    const readers = new Map<string, string>();
    for (const n of nodes) {
      if (n.kind !== 'source') continue;
      for (const t of n.topics) {
        const other = readers.get(t);
        if (other !== undefined) throw new TopologyError('invalid-topology', `topic ${t} is read by both ${other} and ${n.name}`);
        readers.set(t, n.name);
      }
    }
    for (const t of internalTopics) {
      if (!readers.has(t.name)) throw new TopologyError('invalid-topology', `internal topic ${t.name} has no reader`);
      if (!nodes.some((n) => n.kind === 'sink' && n.topic === t.name)) throw new TopologyError('invalid-topology', `internal topic ${t.name} has no writer`);
    }
    this.nodes = byName;
    this.children = children;
    this.stores = storeMap;
    this.internalTopics = new Map(internalTopics.map((t) => [t.name, t]));
    this.storeBuilders = storeMap;
    this.subtopologies = this.split(nodes, new Set(this.internalTopics.keys()));
  }

  /** Connected components of the graph (sources and sinks cut it at topics), numbered in node order. */
  private split(nodes: readonly GraphNode[], internal: ReadonlySet<string>): Subtopology[] {
    const component = new Map<string, number>();
    const storeOwner = new Map<string, number>();
    let next = 0;
    for (const start of nodes) {
      if (component.has(start.name)) continue;
      const id = next++;
      const stack = [start.name];
      while (stack.length > 0) {
        const name = stack.pop()!;
        if (component.has(name)) continue;
        component.set(name, id);
        const node = this.nodes.get(name)!;
        for (const p of parentsOf(node)) stack.push(p);
        for (const c of this.children.get(name)!) stack.push(c);
      }
    }
    const result: Subtopology[] = [];
    for (let id = 0; id < next; id++) {
      const members = nodes.filter((n) => component.get(n.name) === id);
      const order = topologicalOrder(members, this.children);
      const stores = [...new Set(members.flatMap((n) => (n.kind === 'processor' ? n.stores : [])))];
      for (const s of stores) {
        const owner = storeOwner.get(s);
        if (owner !== undefined && owner !== id) throw new TopologyError('invalid-topology', `store ${s} is used by two sub-topologies`);
        storeOwner.set(s, id);
      }
      const sourceTopics = members.flatMap((n) => (n.kind === 'source' ? n.topics : []));
      if (sourceTopics.length === 0) throw new TopologyError('invalid-topology', `sub-topology ${id} (${order[0]}) has no source`);
      const sinkTopics = members.flatMap((n) => (n.kind === 'sink' ? [n.topic] : []));
      // A task reading an input topic keeps its stream time where its state is: lateness and
      // window closing after a restart or a move are then decided as before it (Kafka Streams
      // keeps it in the offset commit's metadata). Stateless sub-topologies that feed no
      // repartition topic decide nothing by stream time that outlives a batch.
      const readsInput = sourceTopics.some((t) => !internal.has(t));
      const feedsRepartition = sinkTopics.some((t) => internal.has(t));
      const needsStreamTime = readsInput && (feedsRepartition || stores.length > 0);
      const streamTimeStore = needsStreamTime ? `KSTREAM-STREAM-TIME-${String(id).padStart(10, '0')}` : undefined;
      if (streamTimeStore !== undefined) {
        this.storeBuilders.set(streamTimeStore, Stores.keyValueStore<string, number>(streamTimeStore));
        stores.push(streamTimeStore);
      }
      result.push({ id, nodes: order, sourceTopics, sinkTopics, stores, ...(streamTimeStore === undefined ? {} : { streamTimeStore }) });
    }
    return result;
  }

  /** The sub-topology that reads a topic, if any. */
  subtopologyOf(topic: string): Subtopology | undefined {
    return this.subtopologies.find((s) => s.sourceTopics.includes(topic));
  }

  /** External input topics: sources that are not internal. */
  inputTopics(): string[] {
    return this.subtopologies.flatMap((s) => s.sourceTopics).filter((t) => !this.internalTopics.has(t));
  }

  /** Topics written by sink nodes that are not internal. */
  outputTopics(): string[] {
    return [...new Set(this.subtopologies.flatMap((s) => s.sinkTopics))].filter((t) => !this.internalTopics.has(t));
  }

  /** A readable description in the shape of Kafka Streams' `Topology.describe()`. */
  describe(): string {
    const lines = ['Topologies:'];
    for (const sub of this.subtopologies) {
      lines.push(`   Sub-topology: ${sub.id}`);
      for (const name of sub.nodes) {
        const n = this.nodes.get(name)!;
        const kids = this.children.get(name)!;
        const arrow = kids.length > 0 ? `\n      --> ${kids.join(', ')}` : '\n      --> none';
        const back = n.kind === 'source' ? '' : `\n      <-- ${n.parents.join(', ')}`;
        if (n.kind === 'source') lines.push(`    Source: ${name} (topics: [${n.topics.join(', ')}])${arrow}`);
        else if (n.kind === 'processor') lines.push(`    Processor: ${name} (stores: [${n.stores.join(', ')}])${arrow}${back}`);
        else if (n.kind === 'sink') lines.push(`    Sink: ${name} (topic: ${n.topic})${back}`);
        else lines.push(`    Sink: ${name} (external)${back}`);
      }
    }
    return lines.join('\n') + '\n';
  }
}

function topologicalOrder(members: readonly GraphNode[], children: ReadonlyMap<string, readonly string[]>): string[] {
  const names = new Set(members.map((n) => n.name));
  const indegree = new Map<string, number>();
  for (const n of members) indegree.set(n.name, parentsOf(n).filter((p) => names.has(p)).length);
  const ready = members.filter((n) => indegree.get(n.name) === 0).map((n) => n.name);
  const order: string[] = [];
  while (ready.length > 0) {
    const name = ready.shift()!;
    order.push(name);
    for (const c of children.get(name) ?? []) {
      const d = indegree.get(c)! - 1;
      indegree.set(c, d);
      if (d === 0) ready.push(c);
    }
  }
  if (order.length !== members.length) throw new TopologyError('invalid-topology', 'the topology has a cycle');
  return order;
}
