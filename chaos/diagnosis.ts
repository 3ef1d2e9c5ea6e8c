/*
 * What a failed fault run leaves to read: where the work stopped in Kafka (each consumer group's
 * members, what each holds, and the partitions it has not read to the end), and the lines of each
 * service that tell its story (warnings, errors, group changes), not only its last lines.
 */
import { AssignerProtocol, type Kafka } from 'kafkajs';
import type { Topics } from '../src/bus/topics.js';

export interface GroupState {
  group: string;
  state: string;
  /** Member id (its last 8 characters) → the partitions it holds, as `topic-suffix:partition`. */
  members: Record<string, string[]>;
  /** Partitions with records past the group's committed offset: `topic-suffix:partition` → records behind. */
  behind: Record<string, number>;
}

/** Each of the service's consumer groups (named by `topics`, as the service names them), as the broker sees it now. */
export async function consumerGroups(kafka: Kafka, topics: Topics, prefix: string): Promise<GroupState[]> {
  // A topic or group without the run's prefix: short enough to read in a failure message.
  const short = (name: string) => (name.startsWith(prefix) ? name.slice(prefix.length + 1) : name);
  const reads = { [topics.groups.matcher]: topics.allEvents, [topics.groups.dispatcher]: [topics.deliveries], [topics.groups.retry]: topics.retries };
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const states: GroupState[] = [];
    for (const group of (await admin.describeGroups(Object.keys(reads))).groups) {
      const members: GroupState['members'] = {};
      for (const member of group.members) {
        const assignment = member.memberAssignment.length ? AssignerProtocol.MemberAssignment.decode(member.memberAssignment) : null;
        members[member.memberId.slice(-8)] = Object.entries(assignment?.assignment ?? {}).flatMap(([topic, partitions]) => partitions.map((p) => `${short(topic)}:${p}`));
      }
      const behind: GroupState['behind'] = {};
      const read = (reads[group.groupId] ?? []).filter((t) => existing.has(t));
      for (const { topic, partitions } of await admin.fetchOffsets({ groupId: group.groupId, topics: read })) {
        const ends = new Map((await admin.fetchTopicOffsets(topic)).map(({ partition, high }) => [partition, Number(high)]));
        for (const { partition, offset } of partitions) {
          const behindBy = (ends.get(partition) ?? 0) - Math.max(0, Number(offset));
          if (behindBy > 0) behind[`${short(topic)}:${partition}`] = behindBy;
        }
      }
      states.push({ group: short(group.groupId), state: group.state, members, behind });
    }
    return states;
  } finally {
    await admin.disconnect();
  }
}

/** Lines worth reading first: warnings and errors, and a consumer's life (joined, crashed, consuming). */
const NOTABLE = /"level":(4\d|5\d|6\d)|"msg":"(joined group|consumer crashed|consuming|service started|shutting down|stopped)"/;

/** A service's notable lines (the last `notable`), then its last `last` lines. */
export function storyOf(name: string, output: string, { notable = 25, last = 8 } = {}): string {
  const lines = output.trimEnd().split('\n');
  const picked = lines.filter((line) => NOTABLE.test(line)).slice(-notable);
  return [`--- ${name}: notable lines ---`, ...picked, `--- ${name}: last lines ---`, ...lines.slice(-last)].join('\n');
}
