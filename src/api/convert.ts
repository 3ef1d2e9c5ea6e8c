import { create, type JsonObject } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  AttemptSchema,
  DeliverySchema,
  WebhookSchema,
  type Delivery,
  type Webhook,
} from '../gen/humiris/webhooks/v1/resources_pb.js';
import type { DeliveryRecord, WebhookRecord } from '../pipeline/ports.js';

/** The secret without an end: the one Create, Rotate and GetWebhookSecret show. */
export function currentSecret(record: WebhookRecord): string {
  return record.secrets.find((s) => s.expiresAt === null)?.secret ?? '';
}

/** `withSecret` only for Create and Rotate: the current secret, never the rotated-out ones. */
export function webhookMessage(record: WebhookRecord, withSecret = false): Webhook {
  return create(WebhookSchema, {
    id: record.id,
    url: record.url,
    events: record.events,
    agent: record.agent ?? '',
    description: record.description,
    status: record.status,
    signatureScheme: record.signatureScheme,
    // Absent (not just empty) everywhere else: the field has explicit presence.
    signingSecret: withSecret ? currentSecret(record) : undefined,
    createdAt: timestampFromDate(record.createdAt),
    updatedAt: timestampFromDate(record.updatedAt),
    disabledReason: record.disabledReason ?? '',
    disabledAt: record.disabledReason && record.disabledAt ? timestampFromDate(record.disabledAt) : undefined,
  });
}

function payloadObject(payload: string): JsonObject | undefined {
  try {
    const value = JSON.parse(payload) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as JsonObject;
  } catch {
    // A payload that is not a JSON object is simply not shown.
  }
  return undefined;
}

/** `detailed` for GetDelivery: attempts and payload; list items leave them out. */
export function deliveryMessage(record: DeliveryRecord, detailed = false): Delivery {
  return create(DeliverySchema, {
    id: record.id,
    webhookId: record.webhookId,
    eventId: record.eventId,
    eventType: record.eventType,
    agent: record.agent ?? '',
    status: record.status,
    attemptCount: record.attemptCount,
    nextAttemptAt: record.nextAttemptAt ? timestampFromDate(record.nextAttemptAt) : undefined,
    lastResponseStatus: record.lastResponseStatus,
    lastError: record.lastError,
    createdAt: timestampFromDate(record.createdAt),
    updatedAt: timestampFromDate(record.updatedAt),
    attempts: detailed
      ? record.attempts.map((a) =>
          create(AttemptSchema, {
            number: a.number,
            startedAt: timestampFromDate(a.startedAt),
            durationMs: a.durationMs,
            responseStatus: a.responseStatus,
            responseBodyExcerpt: a.responseBodyExcerpt,
            error: a.error,
            manual: a.manual,
          }),
        )
      : [],
    payload: detailed && record.payload ? payloadObject(record.payload) : undefined,
  });
}
