/*
 * What a failed fault run leaves to read: where the work stopped in Kafka (each consumer group's
 * members, what each holds, and the partitions it has not read to the end), and the lines of each
 * service that tell its story (warnings, errors, group changes), not only its last lines.
 */
import { AssignerProtocol, type Kafka } from 'kafkajs';

/** Each group and the topics it reads, by the part of their name after the run's prefix. */
const READS = { matcher: '.events.', dispatcher: '.webhooks.deliveries', retry: '.webhooks.retry-' } as const;

export interface GroupState {
  group: string;
  state: string;
  /** Member id (its last 8 characters) → the partitions it holds, as `topic-suffix:partition`. */
  members: Record<string, string[]>;
  /** Partitions with records past the group's committed offset: `topic-suffix:partition` → records behind. */
  behind: Record<string, number>;
}

/** The topic without the run's prefix: short enough to read in a failure message. */
const short = (prefix: string, topic: string) => (topic.startsWith(`${prefix}.`) ? topic.slice(prefix.length + 1) : topic);

/** Each of the run's consumer groups, as the broker sees it now. */
export async function consumerGroups(kafka: Kafka, prefix: string): Promise<GroupState[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    const ends = new Map<string, number>();
    for (const topic of topics) {
      for (const { partition, high } of await admin.fetchTopicOffsets(topic)) ends.set(`${topic}:${partition}`, Number(high));
    }
    const roles = Object.keys(READS) as Array<keyof typeof READS>;
    const described = await admin.describeGroups(roles.map((role) => `${prefix}-webhooks-${role}`));
    const states: GroupState[] = [];
    for (const group of described.groups) {
      // Answered in any order: the role is read back from the name.
      const role = roles.find((r) => group.groupId === `${prefix}-webhooks-${r}`);
      const reads = role === undefined ? [] : topics.filter((t) => t.startsWith(`${prefix}${READS[role]}`));
      const members: GroupState['members'] = {};
      for (const member of group.members) {
        const assignment = member.memberAssignment.length ? AssignerProtocol.MemberAssignment.decode(member.memberAssignment) : null;
        members[member.memberId.slice(-8)] = Object.entries(assignment?.assignment ?? {}).flatMap(([topic, partitions]) =>
          partitions.map((p) => `${short(prefix, topic)}:${p}`),
        );
      }
      const behind: GroupState['behind'] = {};
      const committed = await admin.fetchOffsets({ groupId: group.groupId, topics: reads });
      for (const { topic, partitions } of committed) {
        for (const { partition, offset } of partitions) {
          const end = ends.get(`${topic}:${partition}`) ?? 0;
          const at = Number(offset) < 0 ? 0 : Number(offset);
          if (end > at) behind[`${short(prefix, topic)}:${partition}`] = end - at;
        }
      }
      states.push({ group: group.groupId.slice(prefix.length + 1), state: group.state, members, behind });
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
