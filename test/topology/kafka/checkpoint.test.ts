import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AssignerProtocol } from 'kafkajs';
import { CHECKPOINT_FILE, deleteCheckpoint, planStart, readCheckpoint, scanCheckpoints, writeCheckpoint } from '../../../topology/runtimes/kafka/checkpoint.ts';
import { decodeMemberAssignment, decodeMemberMetadata, encodeMemberAssignment, encodeMemberMetadata } from '../../../topology/runtimes/kafka/group-protocol.ts';
import { decodeLocalState, encodeLocalState } from '../../../topology/runtimes/kafka/partition-assigner.ts';
import { tempStateDir } from './harness.ts';

describe('checkpoint files', () => {
  it('round-trips offsets beyond 2^53 exactly, as JSON with decimal strings, and leaves no temporary file', async () => {
    const dir = join(tempStateDir(), 'app', '1_0');
    const offsets = new Map([
      ['app-counts-changelog/0', 9_007_199_254_740_993n],
      ['app-other-changelog/0', 0n],
    ]);
    await writeCheckpoint(dir, offsets);
    expect(await readCheckpoint(dir)).toEqual(offsets);
    expect(JSON.parse(readFileSync(join(dir, CHECKPOINT_FILE), 'utf8'))).toEqual({ version: 1, offsets: { 'app-counts-changelog/0': '9007199254740993', 'app-other-changelog/0': '0' } });
    expect(readdirSync(dir)).toEqual([CHECKPOINT_FILE]);
  });

  it('reads as none when missing, unreadable or of another version; deleting twice is fine', async () => {
    const dir = join(tempStateDir(), 'app', '0_0');
    expect(await readCheckpoint(dir)).toBeUndefined();
    mkdirSync(dir, { recursive: true });
    for (const text of ['{', '{"version":2,"offsets":{}}', '{"version":1,"offsets":{"t/0":-1}}', '{"version":1,"offsets":{"t/0":"12x"}}']) {
      writeFileSync(join(dir, CHECKPOINT_FILE), text);
      expect(await readCheckpoint(dir), text).toBeUndefined();
    }
    await deleteCheckpoint(dir);
    await deleteCheckpoint(dir);
    expect(await readCheckpoint(dir)).toBeUndefined();
  });

  it('scans every task directory of an application at start, skipping other folders', async () => {
    const stateDir = tempStateDir();
    await writeCheckpoint(join(stateDir, 'app', '1_0'), new Map([['c/0', 10n]]));
    await writeCheckpoint(join(stateDir, 'app', '1_3'), new Map([['c/3', 7n]]));
    await writeCheckpoint(join(stateDir, 'other-app', '1_1'), new Map([['c/1', 1n]]));
    mkdirSync(join(stateDir, 'app', 'not-a-task'), { recursive: true });
    mkdirSync(join(stateDir, 'app', '0_0'), { recursive: true });
    expect(scanCheckpoints(stateDir, 'app')).toEqual(new Map([['1_0', new Map([['c/0', 10n]])], ['1_3', new Map([['c/3', 7n]])]]));
    expect(scanCheckpoints(join(stateDir, 'missing'), 'app').size).toBe(0);
  });
});

describe('planStart: what a checkpoint is worth against the changelog', () => {
  it.each([
    ['no checkpoint', undefined, 0n, 100n, { keep: false, reason: 'no checkpoint' }],
    ['inside the changelog', 60n, 0n, 100n, { keep: true, from: 60n }],
    ['at the end: nothing to restore', 100n, 0n, 100n, { keep: true, from: 100n }],
    ['at the start', 20n, 20n, 100n, { keep: true, from: 20n }],
    ['beyond the end: the topic was recreated', 101n, 0n, 100n, { keep: false, reason: "checkpoint 101 is beyond the changelog's end 100" }],
    ['below the start: records it never saw were deleted', 10n, 20n, 100n, { keep: false, reason: "checkpoint 10 is below the changelog's start 20" }],
  ])('%s', (_, checkpointed, low, high, plan) => {
    expect(planStart(checkpointed, low, high)).toEqual(plan);
  });
});

describe('group protocol', () => {
  it('writes member metadata and assignments as kafkajs reads them, and reads what kafkajs writes', () => {
    const userData = Buffer.from('{"v":1}');
    const metadata = encodeMemberMetadata({ version: 1, topics: ['in', 'app-store-changelog'], userData });
    expect(AssignerProtocol.MemberMetadata.decode(metadata)).toEqual({ version: 1, topics: ['in', 'app-store-changelog'], userData });
    expect(decodeMemberMetadata(AssignerProtocol.MemberMetadata.encode({ version: 3, topics: ['x'], userData }))).toEqual({ version: 3, topics: ['x'], userData });
    const assignment = { in: [0, 2], 'app-store-changelog': [1] };
    expect(AssignerProtocol.MemberAssignment.decode(encodeMemberAssignment({ version: 1, assignment }))).toEqual({ version: 1, assignment, userData: Buffer.alloc(0) });
    expect(decodeMemberAssignment(AssignerProtocol.MemberAssignment.encode({ version: 0, assignment, userData: Buffer.alloc(0) }))).toEqual({ version: 0, assignment, userData: Buffer.alloc(0) });
    expect(decodeMemberAssignment(Buffer.alloc(0))).toBeNull();
  });

  it("a member's report round-trips; one from another version reads as holding nothing", () => {
    const state = { active: ['1_0', '0_10', '0_2'], standby: ['1_1'], offsets: new Map([['1_1', new Map([['app-store-changelog/1', 12_345_678_901_234_567n]])]]) };
    expect(decodeLocalState(encodeLocalState(state))).toEqual({ active: ['0_2', '0_10', '1_0'], standby: ['1_1'], offsets: state.offsets });
    expect(decodeLocalState(Buffer.from('{"v":2,"tasks":[]}'))).toBeUndefined();
    expect(decodeLocalState(Buffer.from('not json'))).toBeUndefined();
    expect(decodeLocalState(Buffer.alloc(0))).toBeUndefined();
  });
});
