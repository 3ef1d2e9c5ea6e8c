import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, ITopicConfig } from 'kafkajs';
import type { RetryStep } from '../domain/retry-policy.js';
import type { Topics } from './topics.js';

const DAY_MS = 86_400_000;
/** Room for a 1 MiB event plus its envelope, so oversized ones reach quarantine instead of failing to produce. */
const MAX_MESSAGE_BYTES = String(2 * 1024 * 1024);

export interface TopicSetup {
  eventPartitions: number;
  workPartitions: number;
  schedule: readonly RetryStep[];
}

/** Creates every topic the service uses when missing; existing topics are left as they are. */
export async function ensureTopics(admin: Admin, topics: Topics, setup: TopicSetup): Promise<void> {
  const config = (retentionMs: number) => [
    { name: 'retention.ms', value: String(retentionMs) },
    { name: 'max.message.bytes', value: MAX_MESSAGE_BYTES },
  ];
  const longestStep = Math.max(0, ...setup.schedule.map((step) => step.delayMs));
  const wanted: ITopicConfig[] = [
    ...topics.allEvents.map((topic) => ({ topic, numPartitions: setup.eventPartitions, configEntries: config(7 * DAY_MS) })),
    { topic: topics.deliveries, numPartitions: setup.workPartitions, configEntries: config(7 * DAY_MS) },
    // A retry waits its step on the topic: keep records well past it.
    ...topics.retries.map((topic) => ({
      topic,
      numPartitions: setup.workPartitions,
      configEntries: config(Math.max(7 * DAY_MS, 3 * longestStep)),
    })),
    { topic: topics.dlq, numPartitions: setup.workPartitions, configEntries: config(30 * DAY_MS) },
    { topic: topics.invalidEvents, numPartitions: 1, configEntries: config(30 * DAY_MS) },
    { topic: topics.operational, numPartitions: setup.workPartitions, configEntries: config(30 * DAY_MS) },
  ];
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((t) => !existing.has(t.topic));
  if (missing.length === 0) return;
  try {
    await admin.createTopics({ topics: missing, waitForLeaders: false });
  } catch (error) {
    // Another instance created some of them first.
    if (!/already exists/i.test(String((error as Error).message))) throw error;
  }
  await waitForLeaders(admin, missing.map((t) => t.topic));
}

/**
 * Creates topics and returns once each partition has a leader (see waitForLeaders). kafkajs's own wait gives up on a
 * metadata error while other clients create and delete topics; waitForLeaders polls past it.
 */
export async function createTopics(admin: Admin, topics: ITopicConfig[]): Promise<void> {
  await admin.createTopics({ topics, waitForLeaders: false });
  await waitForLeaders(admin, topics.map((t) => t.topic));
}

/**
 * Polls until every partition has a leader that answers as one; a new topic is briefly unknown to
 * the broker, and then briefly named leader in the metadata before it lists offsets. A consumer
 * that joins meanwhile fails to list them and rejoins its group, again and again.
 */
export async function waitForLeaders(admin: Admin, topics: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics });
      if (metadata.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) {
        await Promise.all(topics.map((topic) => admin.fetchTopicOffsets(topic)));
        return;
      }
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) throw new Error(`topics have no leader after ${timeoutMs / 1000} s: ${topics.join(', ')}`);
    await sleep(100);
  }
}

/** How many partitions a topic has (it may differ from the setting it was created with). */
export async function partitionCount(admin: Admin, topic: string): Promise<number> {
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
  return metadata.topics[0]?.partitions.length ?? 0;
}
