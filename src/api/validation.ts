import { AGENT_SLUG } from '../domain/event.js';
import { ALL_EVENTS, EVENT_TYPES, isEventType, TEST_EVENT_TYPE } from '../domain/event-types.js';
import { invalidArgument, notFound } from '../domain/errors.js';
import { ID_PATTERNS } from '../domain/ids.js';
import { isOperationalType, OPERATIONAL_EVENT_TYPES } from '../domain/operational-events.js';
import { SIGNATURE_SCHEMES, type SignatureScheme } from '../domain/signing.js';
import type { DeliveryStatus, WebhookStatus } from '../pipeline/ports.js';

const MAX_DESCRIPTION = 1024;
const WEBHOOK_STATUSES: readonly WebhookStatus[] = ['active', 'disabled'];
const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'succeeded', 'retrying', 'failed'];

/** Non-empty, each a known type or `*`; duplicates dropped (first occurrence kept). */
export function validateEvents(events: readonly string[]): string[] {
  if (events.length === 0) {
    throw invalidArgument(`events must list at least one event type, or "${ALL_EVENTS}" for all of them`, 'events');
  }
  events.forEach((event, i) => {
    if (event !== ALL_EVENTS && !isEventType(event) && !isOperationalType(event)) {
      throw invalidArgument(
        `events[${i}]: unknown event type ${JSON.stringify(event)}; valid types are ${EVENT_TYPES.join(', ')} or "${ALL_EVENTS}", and the operational ${OPERATIONAL_EVENT_TYPES.join(', ')}`,
        `events[${i}]`,
      );
    }
  });
  return [...new Set(events)];
}

/** Empty means every agent of the workspace (stored as null). */
export function validateAgent(agent: string): string | null {
  if (agent === '') return null;
  if (!AGENT_SLUG.test(agent)) {
    throw invalidArgument('agent must be empty or a slug like "support-bot" ([a-z0-9][a-z0-9_-]{0,62})', 'agent');
  }
  return agent;
}

export function validateDescription(description: string): string {
  if (description.length > MAX_DESCRIPTION) throw invalidArgument(`description must be at most ${MAX_DESCRIPTION} characters`, 'description');
  return description;
}

export function validateWebhookStatus(status: string): WebhookStatus {
  if (!WEBHOOK_STATUSES.includes(status as WebhookStatus)) {
    throw invalidArgument(`status must be one of ${WEBHOOK_STATUSES.join(', ')}`, 'status');
  }
  return status as WebhookStatus;
}

/** Empty on create means the default, `humiris`. */
export function validateSignatureScheme(scheme: string): SignatureScheme {
  if (scheme === '') return 'humiris';
  if (!SIGNATURE_SCHEMES.includes(scheme as SignatureScheme)) {
    throw invalidArgument(`signature_scheme must be one of ${SIGNATURE_SCHEMES.join(', ')}`, 'signature_scheme');
  }
  return scheme as SignatureScheme;
}

export function validateDeliveryStatus(status: string): DeliveryStatus | undefined {
  if (status === '') return undefined;
  if (!DELIVERY_STATUSES.includes(status as DeliveryStatus)) {
    throw invalidArgument(`status must be empty or one of ${DELIVERY_STATUSES.join(', ')}`, 'status');
  }
  return status as DeliveryStatus;
}

/** Empty means any type; test deliveries (SendTestEvent) can be filtered too. */
export function validateEventTypeFilter(eventType: string): string | undefined {
  if (eventType === '') return undefined;
  if (!isEventType(eventType) && eventType !== TEST_EVENT_TYPE && !isOperationalType(eventType)) {
    throw invalidArgument(`event_type ${JSON.stringify(eventType)} is not a known event type`, 'event_type');
  }
  return eventType;
}

/** A malformed id cannot exist: answer exactly as for a missing one. */
export function checkId(kind: 'webhook' | 'delivery' | 'recovery', id: string): string {
  if (!ID_PATTERNS[kind].test(id)) throw notFound(`${kind} ${id.slice(0, 64)}`);
  return id;
}
