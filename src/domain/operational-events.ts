import type { ValidEvent } from './event.js';

/**
 * Notices about the service's own handling of a workspace's webhooks (proto: OperationalEvent).
 * Never produced to an event topic: the service writes them to `<prefix>.webhooks.operational`
 * and delivers them to the webhooks that subscribe to them by name (`*` does not include them).
 */
export const OPERATIONAL_EVENT_TYPES = ['webhook.disabled', 'delivery.exhausted', 'webhook.recovered'] as const;
export type OperationalEventType = (typeof OPERATIONAL_EVENT_TYPES)[number];

const known = new Set<string>(OPERATIONAL_EVENT_TYPES);

export function isOperationalType(value: string): value is OperationalEventType {
  return known.has(value);
}

/**
 * An operational event in the shape of a domain event, so that its deliveries are matched, signed,
 * retried and recorded like any other; `data` holds the proto message of its type, in JSON.
 */
export interface OperationalEvent extends ValidEvent {
  type: OperationalEventType;
  /** The webhook it is about: the Kafka record's key. */
  webhookId: string;
}

const iso = (at: Date | null | undefined): string | undefined => at?.toISOString();

/** Drops absent fields, as proto JSON leaves out unset timestamps. */
function present(data: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(data).filter(([, value]) => value !== undefined));
}

interface Common {
  id: string;
  workspace: string;
  webhookId: string;
  createdAt: Date;
}

function operational(type: OperationalEventType, common: Common, data: Record<string, unknown>): OperationalEvent {
  return { ...common, type, agent: null, data: present({ webhook_id: common.webhookId, ...data }) };
}

export interface WebhookDisabledFacts {
  url: string;
  reason: string;
  disabledAt: Date;
  /** null when a 410 disabled it. */
  failingSince: Date | null;
  failedAttempts: number;
  lastResponseStatus: number;
  lastError: string;
}

export const webhookDisabled = (common: Common, facts: WebhookDisabledFacts): OperationalEvent =>
  operational('webhook.disabled', common, {
    url: facts.url,
    reason: facts.reason,
    disabled_at: iso(facts.disabledAt),
    failing_since: iso(facts.failingSince),
    failed_attempts: facts.failedAttempts,
    last_response_status: facts.lastResponseStatus,
    last_error: facts.lastError,
  });

export interface DeliveryExhaustedFacts {
  deliveryId: string;
  eventId: string;
  eventType: string;
  attemptCount: number;
  lastError: string;
  failedAt: Date;
}

export const deliveryExhausted = (common: Common, facts: DeliveryExhaustedFacts): OperationalEvent =>
  operational('delivery.exhausted', common, {
    delivery_id: facts.deliveryId,
    event_id: facts.eventId,
    event_type: facts.eventType,
    attempt_count: facts.attemptCount,
    last_error: facts.lastError,
    failed_at: iso(facts.failedAt),
  });

export interface WebhookRecoveredFacts {
  url: string;
  recoveredAt: Date;
  failingSince: Date;
  failedAttempts: number;
}

export const webhookRecovered = (common: Common, facts: WebhookRecoveredFacts): OperationalEvent =>
  operational('webhook.recovered', common, {
    url: facts.url,
    recovered_at: iso(facts.recoveredAt),
    failing_since: iso(facts.failingSince),
    failed_attempts: facts.failedAttempts,
  });

/** The Kafka record's value: `{id, type, workspace, created_at, data}` (README: Operational events). */
export function operationalRecord(event: OperationalEvent): string {
  return JSON.stringify({ id: event.id, type: event.type, workspace: event.workspace, created_at: event.createdAt.toISOString(), data: event.data });
}
