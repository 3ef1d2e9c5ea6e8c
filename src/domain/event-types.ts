/** The domain event types producers may emit; one Kafka topic each. */
export const EVENT_TYPES = [
  'email.received',
  'email.sent',
  'email.bounced',
  'sms.received',
  'sms.sent',
  'call.started',
  'call.ended',
  'card.authorization',
  'card.capture',
  'card.decline',
  'card.refund',
  'wallet.transfer.in',
  'wallet.transfer.out',
  'agent.created',
  'agent.deleted',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** Subscribing to `*` means every event type. */
export const ALL_EVENTS = '*';

/** Sent by SendTestEvent to a single webhook; never produced to an event topic. */
export const TEST_EVENT_TYPE = 'webhook.test';

const known = new Set<string>(EVENT_TYPES);

export function isEventType(value: string): value is EventType {
  return known.has(value);
}
