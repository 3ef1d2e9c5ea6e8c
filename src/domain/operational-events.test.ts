import { fromJson, type JsonObject } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import {
  DeliveryExhaustedSchema,
  OperationalEventSchema,
  WebhookDisabledSchema,
  WebhookRecoveredSchema,
} from '../gen/humiris/webhooks/v1/operational_pb.js';
import { deliveryExhausted, isOperationalType, operationalRecord, webhookDisabled, webhookRecovered } from './operational-events.js';

const common = { id: 'evt_1', workspace: 'acme', webhookId: 'whk_1', createdAt: new Date('2025-01-02T03:04:05.000Z') };
const at = new Date('2025-01-01T00:00:00.000Z');

// The Kafka record and the webhook body are the proto messages in JSON: each parses with its schema.
describe('operational event records', () => {
  it.each([
    [webhookDisabled(common, { url: 'https://x.example/h', reason: 'endpoint answered 410 Gone', disabledAt: at, failingSince: null, failedAttempts: 1, lastResponseStatus: 410, lastError: 'status 410' }), 'webhookDisabled', WebhookDisabledSchema],
    [deliveryExhausted(common, { deliveryId: 'dlv_1', eventId: 'evt_0', eventType: 'sms.sent', attemptCount: 6, lastError: 'status 500', failedAt: at }), 'deliveryExhausted', DeliveryExhaustedSchema],
    [webhookRecovered(common, { url: 'https://x.example/h', recoveredAt: at, failingSince: at, failedAttempts: 3 }), 'webhookRecovered', WebhookRecoveredSchema],
  ] as const)('%#: %s parses as its proto message', (event, member, schema) => {
    const record = JSON.parse(operationalRecord(event)) as JsonObject;
    expect(Object.keys(record)).toEqual(['id', 'type', 'workspace', 'created_at', 'data']);
    expect(record.created_at).toBe('2025-01-02T03:04:05.000Z');
    const data = fromJson(schema, record.data as JsonObject, { ignoreUnknownFields: false });
    expect(data).toMatchObject({ webhookId: 'whk_1' });
    const { data: _data, ...envelope } = record;
    const message = fromJson(OperationalEventSchema, { ...envelope, [member]: record.data } as JsonObject);
    expect(message.data.case).toBe(member);
    expect(message.type).toBe(event.type);
  });

  it('knows its types, and no event type is one', () => {
    expect(isOperationalType('webhook.disabled')).toBe(true);
    expect(isOperationalType('sms.sent')).toBe(false);
    expect(isOperationalType('*')).toBe(false);
  });
});
