import { describe, expect, it } from 'vitest';
import { subscribes } from './matching.js';

const hook = (events: string[], agent: string | null, status = 'active') => ({ events, agent, status });

describe('subscribes', () => {
  it.each([
    [hook(['email.received'], null), 'email.received', 'bot', true],
    [hook(['email.received'], null), 'email.received', null, true],
    [hook(['email.received'], null), 'sms.sent', 'bot', false],
    [hook(['*'], null), 'card.refund', null, true],
    [hook(['*'], 'bot'), 'card.refund', 'bot', true],
    [hook(['*'], 'bot'), 'card.refund', 'other', false],
    [hook(['*'], 'bot'), 'card.refund', null, false],
    [hook(['email.received', 'sms.sent'], 'bot'), 'sms.sent', 'bot', true],
    [hook(['*'], null, 'disabled'), 'sms.sent', null, false],
    // Operational events go only to webhooks that name them.
    [hook(['*'], null), 'webhook.disabled', null, false],
    [hook(['webhook.disabled'], null), 'webhook.disabled', null, true],
    [hook(['delivery.exhausted', 'sms.sent'], null), 'delivery.exhausted', null, true],
    [hook(['webhook.disabled'], null), 'webhook.recovered', null, false],
  ])('%j gets %s from agent %s: %s', (webhook, type, agent, expected) => {
    expect(subscribes(webhook, type, agent)).toBe(expected);
  });
});
