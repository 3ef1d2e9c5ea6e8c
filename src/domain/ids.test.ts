import { describe, expect, it } from 'vitest';
import {
  ID_PATTERNS,
  newApiKey,
  newDeliveryId,
  newEventId,
  newSigningSecret,
  newWebhookId,
  randomBase62,
  recoveryId,
} from './ids.js';

describe('ids', () => {
  it('have the documented prefixes and shapes', () => {
    expect(newWebhookId()).toMatch(ID_PATTERNS.webhook);
    expect(newDeliveryId()).toMatch(ID_PATTERNS.delivery);
    expect(newEventId()).toMatch(/^evt_[0-9A-Za-z]{24}$/);
    expect(newApiKey()).toMatch(/^hum_sk_live_[0-9A-Za-z]{40}$/);
    expect(newApiKey('test')).toMatch(ID_PATTERNS.apiKey);
    expect(newSigningSecret()).toMatch(/^whsec_[A-Za-z0-9]{44}$/);
  });

  it('a recovery id names its workspace, webhook and window: the same window, the same id', () => {
    const id = recoveryId('acme', 'whk_1', 1000, 2000);
    expect(id).toMatch(ID_PATTERNS.recovery);
    expect(recoveryId('acme', 'whk_1', 1000, 2000)).toBe(id);
    const others = [recoveryId('acme', 'whk_1', 1000, null), recoveryId('acme', 'whk_1', 1001, 2000), recoveryId('acme', 'whk_2', 1000, 2000), recoveryId('acm', 'whk_1', 1000, 2000)];
    expect(new Set([id, ...others]).size).toBe(5);
  });

  it('delivery ids sort by creation time, also within one millisecond', () => {
    const now = Date.UTC(2026, 0, 1);
    const ids = [newDeliveryId(now - 1), newDeliveryId(now), newDeliveryId(now), newDeliveryId(now + 60_000)];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('random ids do not repeat', () => {
    const seen = new Set(Array.from({ length: 10_000 }, () => randomBase62(16)));
    expect(seen.size).toBe(10_000);
  });
});
