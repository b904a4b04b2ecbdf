import type { Producer } from './client/port.ts';
import type { StreamTask } from '../../internals/task.ts';
import type { TopicMessages } from './client/port.ts';
import { RecordCollector } from './record-collector.ts';
import type { TaskState } from './state-manager.ts';
import { changelogTopicName } from './topics.ts';

/** An input offset a commit covers: the next offset to read on a task's source partition. */
export interface OffsetToCommit {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** At-least-once: the task's stream time at this offset, so a restart resumes with the time that goes with it. */
  readonly metadata?: string;
}

/** A running task in the Kafka runtime: the engine-side task plus what Kafka needs of it. */
export class ActiveTask {
  readonly task: StreamTask;
  readonly collector: RecordCollector;
  /** Exactly-once with a producer per task: its transactional producer (`<application>-<task>`), which fences zombies. */
  readonly producer: Producer | undefined;
  /** Kafka names of the topics this task reads (one partition each: the task's). */
  readonly sourceTopics: readonly string[];
  /** Its stores' directory, checkpoint and changelog offsets; absent for a task made without the state manager (tests). */
  readonly state: TaskState | undefined;
  private readonly applicationId: string;

  constructor(task: StreamTask, collector: RecordCollector, producer: Producer | undefined, sourceTopics: readonly string[], applicationId: string, state?: TaskState) {
    this.task = task;
    this.collector = collector;
    this.producer = producer;
    this.sourceTopics = sourceTopics;
    this.applicationId = applicationId;
    this.state = state;
  }

  get id(): string {
    return this.task.id;
  }

  reads(o: OffsetToCommit): boolean {
    return o.partition === this.task.partition && this.sourceTopics.includes(o.topic);
  }

  /** Outputs and changelog writes since the last commit, taken together so no change is left behind. */
  takeOutputs(): TopicMessages[] {
    const fallback = this.task.streamTime;
    for (const { store, entries } of this.task.drainChanges()) this.collector.sendChangelog(changelogTopicName(this.applicationId, store), this.task.partition, entries, fallback);
    return this.collector.take();
  }
}

/** Retries are bounded, then what is left is handed to the caller; these say what happened. */
export class TaskFencedError extends Error {
  readonly taskId: string;
  constructor(taskId: string, cause: unknown) {
    super(`task ${taskId} was fenced by its new owner`, { cause });
    this.name = 'TaskFencedError';
    this.taskId = taskId;
  }
}
