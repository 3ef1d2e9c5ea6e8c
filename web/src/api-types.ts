import type { DeliveryStatus, WebhookStatus } from '../../src/pipeline/ports.js';

/**
 * The REST JSON of the API (proto field names; see proto/humiris/webhooks/v1). Written by hand: the
 * generated src/gen types are the protobuf messages (camelCase, Timestamp objects), not this JSON.
 * The status strings are the service's own, so the two cannot drift apart.
 */
export type { DeliveryStatus, WebhookStatus };

export interface Webhook {
  id: string;
  url: string;
  events: string[];
  /** null: every agent of the workspace. */
  agent: string | null;
  description?: string;
  status: WebhookStatus;
  /** Only on the answers of create and rotate-secret. */
  signing_secret?: string;
  created_at?: string;
  updated_at?: string;
  /** Why the service disabled it (sustained failures, `410 Gone`); empty when disabled through the API. */
  disabled_reason?: string;
  disabled_at?: string | null;
}

/** A bulk recovery of a webhook's failed deliveries created in [since, until). */
export interface Recovery {
  id: string;
  webhook_id: string;
  since: string;
  until: string;
  status: 'running' | 'done';
  found: number;
  queued: number;
  skipped: number;
  created_at?: string;
  updated_at?: string;
  finished_at?: string | null;
}

export interface Attempt {
  number: number;
  started_at?: string;
  duration_ms?: number;
  /** 0 or absent when no response arrived. */
  response_status?: number;
  response_body_excerpt?: string;
  error?: string;
  manual?: boolean;
}

export interface Delivery {
  id: string;
  webhook_id: string;
  event_id?: string;
  event_type: string;
  /** null: the event belongs to no particular agent. */
  agent: string | null;
  status: DeliveryStatus;
  attempt_count?: number;
  next_attempt_at?: string | null;
  last_response_status?: number;
  last_error?: string;
  created_at?: string;
  updated_at?: string;
  attempts?: Attempt[];
  payload?: unknown;
}

/** One UTC hour of a webhook's deliveries, by status as they stand (GetDeliveryCounts). */
export interface HourCounts {
  start_time: string;
  succeeded: number;
  retrying: number;
  pending: number;
  failed: number;
}

export interface DeliveryCounts {
  /** Oldest first. */
  hours: HourCounts[];
}

export interface Page<T> {
  data: T[];
  next_cursor?: string;
}

export interface WebhookInput {
  url: string;
  events: string[];
  agent: string | null;
  description: string;
}
