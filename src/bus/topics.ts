import type { RetryStep } from '../domain/retry-policy.js';
import { EVENT_TYPES } from '../domain/event-types.js';

/** Every topic and consumer group name the service uses, derived from the prefix in one place. */
export interface Topics {
  event(type: string): string;
  /** Event type of an event topic, or undefined for any other topic. */
  eventTypeOf(topic: string): string | undefined;
  allEvents: string[];
  deliveries: string;
  /** One per distinct step duration: steps of equal delay share a topic and stay in due order. */
  retries: string[];
  /** The topic of schedule step `step` (0-based). */
  retryTopic(step: number): string;
  dlq: string;
  invalidEvents: string;
  /** Operational events (README: Operational events). */
  operational: string;
  groups: { matcher: string; dispatcher: string; retry: string };
}

export function topicNames(prefix: string, schedule: readonly RetryStep[]): Topics {
  const eventPrefix = `${prefix}.events.`;
  const known = new Set<string>(EVENT_TYPES);
  // The default prefix gives the documented group names; others keep test and tenant stacks apart.
  const group = (role: string) => `${prefix}-webhooks-${role}`;
  const retryTopicName = (label: string) => `${prefix}.webhooks.retry-${label}`;
  return {
    event: (type) => `${eventPrefix}${type}`,
    eventTypeOf: (topic) => {
      const type = topic.startsWith(eventPrefix) ? topic.slice(eventPrefix.length) : undefined;
      return type !== undefined && known.has(type) ? type : undefined;
    },
    allEvents: EVENT_TYPES.map((type) => `${eventPrefix}${type}`),
    deliveries: `${prefix}.webhooks.deliveries`,
    retries: [...new Set(schedule.map((step) => retryTopicName(step.label)))],
    retryTopic: (step) => {
      const label = schedule[step]?.label;
      if (label === undefined) throw new RangeError(`the schedule has no step ${step}`);
      return retryTopicName(label);
    },
    dlq: `${prefix}.webhooks.dlq`,
    invalidEvents: `${prefix}.webhooks.invalid-events`,
    operational: `${prefix}.webhooks.operational`,
    groups: { matcher: group('matcher'), dispatcher: group('dispatcher'), retry: group('retry') },
  };
}
