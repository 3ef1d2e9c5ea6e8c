import { ALL_EVENTS } from './event-types.js';
import { isOperationalType } from './operational-events.js';

export interface Subscription {
  events: readonly string[];
  /** null = every agent. */
  agent: string | null;
  status: string;
}

/**
 * Whether a webhook gets an event: active, subscribed to its type (or `*`, which means every event
 * type but not the operational ones), and for all agents or the event's.
 */
export function subscribes(webhook: Subscription, eventType: string, agent: string | null): boolean {
  return (
    webhook.status === 'active' &&
    (webhook.events.includes(eventType) || (webhook.events.includes(ALL_EVENTS) && !isOperationalType(eventType))) &&
    (webhook.agent === null || webhook.agent === agent)
  );
}
