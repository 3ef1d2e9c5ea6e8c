import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import { topicNames } from './topics.js';

describe('topicNames', () => {
  it('gives the documented names for the default prefix and schedule', () => {
    const topics = topicNames('humiris', loadConfig({}).retrySchedule);
    expect(topics.event('email.received')).toBe('humiris.events.email.received');
    expect(topics.allEvents).toHaveLength(15);
    expect(topics.allEvents).toContain('humiris.events.wallet.transfer.in');
    expect(topics.deliveries).toBe('humiris.webhooks.deliveries');
    expect(topics.retries).toEqual([
      'humiris.webhooks.retry-30s',
      'humiris.webhooks.retry-5m',
      'humiris.webhooks.retry-30m',
      'humiris.webhooks.retry-2h',
      'humiris.webhooks.retry-24h',
    ]);
    expect(topics.dlq).toBe('humiris.webhooks.dlq');
    expect(topics.invalidEvents).toBe('humiris.webhooks.invalid-events');
    expect(topics.groups.matcher).toBe('humiris-webhooks-matcher');
    expect(topics.groups.dispatcher).toBe('humiris-webhooks-dispatcher');
  });

  it('names retry topics after the configured durations', () => {
    const topics = topicNames('humiris', loadConfig({ WEBHOOKS_RETRY_SCHEDULE: '1s,2s' }).retrySchedule);
    expect(topics.retries).toEqual(['humiris.webhooks.retry-1s', 'humiris.webhooks.retry-2s']);
    expect(topics.retryTopic(1)).toBe('humiris.webhooks.retry-2s');
  });

  it('lets steps of the same duration share one topic', () => {
    const topics = topicNames('humiris', loadConfig({ WEBHOOKS_RETRY_SCHEDULE: '1s,1s,1s,1s,1s' }).retrySchedule);
    expect(topics.retries).toEqual(['humiris.webhooks.retry-1s']);
    expect(topics.retryTopic(4)).toBe('humiris.webhooks.retry-1s');
    expect(() => topics.retryTopic(5)).toThrow(RangeError);
  });

  it('reads the event type back from an event topic only', () => {
    const topics = topicNames('acme', []);
    expect(topics.eventTypeOf('acme.events.card.refund')).toBe('card.refund');
    expect(topics.eventTypeOf('acme.events.card.unknown')).toBeUndefined();
    expect(topics.eventTypeOf('acme.webhooks.dlq')).toBeUndefined();
  });
});
