import type { IHeaders, Kafka } from 'kafkajs';
import type { RetrySchedule } from '../domain/retry-policy.js';
import type { Logger } from '../log/logger.js';
import type { Dispatcher } from '../pipeline/dispatcher.js';
import type { Matcher } from '../pipeline/matcher.js';
import { traceContextFrom } from '../domain/trace-context.js';
import { decodeEventRecord } from './event-codec.js';
import type { Semaphore } from '../pipeline/semaphore.js';
import { decodeTask, DUE_AT_HEADER, WEBHOOKS_CHANGED_HEADER, type KafkaTaskQueue } from './task-queue.js';
import type { Topics } from './topics.js';
import { startWorkerConsumer, type WorkerConsumer } from './worker-consumer.js';

interface ConsumerDeps {
  kafka: Kafka;
  topics: Topics;
  logger: Logger;
  semaphore: Semaphore;
  drainTimeoutMs: number;
}

function header(headers: IHeaders, name: string): string | undefined {
  const value = headers[name];
  return value === undefined ? undefined : String(Array.isArray(value) ? value[0] : value);
}

/** Event topics → matcher; what cannot be accepted goes to the invalid-events topic with its reason. */
export function startMatcherConsumer(deps: ConsumerDeps & { matcher: Matcher; queue: KafkaTaskQueue }): Promise<WorkerConsumer> {
  const { topics, logger, matcher, queue } = deps;
  return startWorkerConsumer({
    ...deps,
    groupId: topics.groups.matcher,
    topics: topics.allEvents,
    async handle(message) {
      const decoded = decodeEventRecord({ ...message, contentType: header(message.headers, 'content-type') }, topics.eventTypeOf(message.topic)!);
      let reason: string;
      let held: Promise<void> | undefined;
      if (decoded.ok) {
        // The trace the producer put in the record's headers, or none (the match starts one).
        const event = { ...decoded.event, trace: traceContextFrom(header(message.headers, 'traceparent'), header(message.headers, 'tracestate')) };
        const source = `${message.topic}:${message.partition}:${message.offset}`;
        // Accepted right after a webhook change elsewhere: matched against webhooks read after this record.
        const readAfter = header(message.headers, WEBHOOKS_CHANGED_HEADER) === undefined ? undefined : message.receivedAt;
        const matched = await matcher.match(event, source, Number(message.timestamp), readAfter);
        const { duplicateOf, conflictWith, refused } = matched;
        held = matched.held;
        if (duplicateOf !== undefined) logger.info({ eventId: event.id, workspace: event.workspace, source, firstSource: duplicateOf }, 'duplicate event');
        if (conflictWith !== undefined) {
          reason = `event id ${event.id} is already used in this workspace by an event with another type, agent or data (first read from ${conflictWith})`;
        } else if (refused !== undefined) {
          reason = `its deliveries could not be queued: ${refused}`;
        } else {
          return held && { held };
        }
      } else {
        reason = decoded.reason;
      }
      logger.warn({ topic: message.topic, partition: message.partition, offset: message.offset, reason }, 'event quarantined');
      await queue.quarantine(message, reason);
      return held && { held };
    },
  });
}

/**
 * A retry partition paused until its next record is due is fetched again after the fetch in
 * progress ends: that wait stays small beside the schedule's first step (1 s of the default 30 s).
 */
export const resumeWaitMs = (schedule: RetrySchedule): number =>
  Math.min(1_000, Math.max(50, Math.round((schedule[0]?.delayMs ?? 0) / 20)));

/** The deliveries topic (role `dispatcher`) or the retry topics (role `retry`) → dispatcher. */
export function startDispatchConsumer(
  deps: ConsumerDeps & { dispatcher: Dispatcher; role: 'dispatcher' | 'retry'; schedule: RetrySchedule },
): Promise<WorkerConsumer> {
  const { topics, logger, dispatcher, role } = deps;
  return startWorkerConsumer({
    ...deps,
    fetchWaitMs: role === 'retry' ? resumeWaitMs(deps.schedule) : undefined,
    groupId: role === 'dispatcher' ? topics.groups.dispatcher : topics.groups.retry,
    topics: role === 'dispatcher' ? [topics.deliveries] : topics.retries,
    dueAt: role === 'retry' ? (message) => Number(header(message.headers, DUE_AT_HEADER) ?? 0) : undefined,
    async handle(message) {
      let task;
      try {
        task = decodeTask(message.value);
      } catch (error) {
        // Only this service writes these topics; a record it cannot read is a bug, not work to retry forever.
        logger.error({ err: error, topic: message.topic, partition: message.partition, offset: message.offset }, 'unreadable task skipped');
        return;
      }
      await dispatcher.dispatch(task);
    },
  });
}
