import type { Admin } from 'kafkajs';
import type { Topics } from '../bus/topics.js';
import type { RetryStep } from '../domain/retry-policy.js';
import type { MetricSet } from './definitions.js';

/** Offsets are read on scrape, at most this often: scrapes in between see the last reading. */
export const LAG_REFRESH_MS = 5_000;
/** A reading that takes longer is given up; the scrape shows the previous one. */
const LAG_TIMEOUT_MS = 3_000;

export interface PartitionLag {
  group: string;
  topic: string;
  partition: number;
  lag: number;
}

/** The groups and the topics each reads. */
function groupTopics(topics: Topics): Array<{ group: string; topics: string[] }> {
  return [
    { group: topics.groups.matcher, topics: topics.allEvents },
    { group: topics.groups.dispatcher, topics: [topics.deliveries] },
    { group: topics.groups.retry, topics: topics.retries },
  ];
}

/** Lag per group, topic and partition: end offset less committed offset (the earliest offset when the group has none). */
export async function readLag(admin: Admin, topics: Topics): Promise<PartitionLag[]> {
  const groups = groupTopics(topics);
  const allTopics = [...new Set(groups.flatMap((g) => g.topics))];
  const ends = new Map<string, Map<number, { high: number; low: number }>>();
  await Promise.all(
    allTopics.map(async (topic) => {
      const offsets = await admin.fetchTopicOffsets(topic);
      ends.set(topic, new Map(offsets.map((o) => [o.partition, { high: Number(o.high), low: Number(o.low) }])));
    }),
  );
  const lags: PartitionLag[] = [];
  await Promise.all(
    groups.map(async ({ group, topics: read }) => {
      if (read.length === 0) return;
      const committed = await admin.fetchOffsets({ groupId: group, topics: read });
      for (const { topic, partitions } of committed) {
        for (const { partition, offset } of partitions) {
          const end = ends.get(topic)?.get(partition);
          if (!end) continue;
          const at = Number(offset) >= 0 ? Number(offset) : end.low;
          lags.push({ group, topic, partition, lag: Math.max(0, end.high - at) });
        }
      }
    }),
  );
  return lags;
}

/**
 * Feeds the lag and retry-depth gauges from Kafka offsets when /metrics is scraped (never per
 * message), reading them at most every LAG_REFRESH_MS however often scrapes come.
 */
export function watchConsumerLag(admin: Admin, topics: Topics, schedule: readonly RetryStep[], m: MetricSet, onError: (error: unknown) => void): void {
  let readAt = 0;
  let reading: Promise<void> | undefined;
  const refresh = async () => {
    const lags = await Promise.race([
      readLag(admin, topics),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`Kafka offsets not read within ${LAG_TIMEOUT_MS} ms`)), LAG_TIMEOUT_MS).unref()),
    ]);
    m.consumerLag.reset();
    m.retryDepth.reset();
    const depth = new Map<string, number>();
    for (const { group, topic, partition, lag } of lags) {
      m.consumerLag.set({ group, topic, partition: String(partition) }, lag);
      if (group === topics.groups.retry) depth.set(topic, (depth.get(topic) ?? 0) + lag);
    }
    // One series per step delay; steps of equal delay share their topic.
    for (const step of new Map(schedule.map((s) => [s.label, s])).values()) {
      const topic = topics.retryTopic(schedule.indexOf(step));
      m.retryDepth.set({ step: step.label, topic }, depth.get(topic) ?? 0);
    }
  };
  const collect = async () => {
    if (Date.now() - readAt < LAG_REFRESH_MS) return;
    // A failed reading waits its turn too: an unreachable Kafka must not slow every scrape.
    reading ??= refresh()
      .catch(onError)
      .finally(() => {
        readAt = Date.now();
        reading = undefined;
      });
    await reading;
  };
  // prom-client calls collect() before each scrape; both gauges share one reading.
  (m.consumerLag as unknown as { collect: () => Promise<void> }).collect = collect;
  (m.retryDepth as unknown as { collect: () => Promise<void> }).collect = collect;
}
