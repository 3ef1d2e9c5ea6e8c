import { describe, expect, it } from 'vitest';
import {
  deliveryPackId,
  ID_PATTERNS,
  newApiKey,
  newDeliveryId,
  newEventId,
  newSigningSecret,
  newWebhookId,
  packIdOf,
  packMemberId,
  PACK_MEMBERS_MAX,
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

  it("a pack's members are delivery ids of its hour that name their pack, the same for every process", () => {
    const at = Date.UTC(2026, 0, 1, 7, 30);
    const pack = deliveryPackId(at, 'acme\u0000evt_1\u0000t:0:5\u00001\u00002');
    expect(deliveryPackId(at, 'acme\u0000evt_1\u0000t:0:5\u00001\u00002')).toBe(pack);
    expect(deliveryPackId(at, 'acme\u0000evt_1\u0000t:0:5\u00001\u00003')).not.toBe(pack);
    const members = [0, 1, 61, 62, 3843, 3844, PACK_MEMBERS_MAX - 1].map((i) => packMemberId(pack, i));
    for (const id of members) {
      expect(id).toMatch(ID_PATTERNS.delivery);
      expect(packIdOf(id)).toBe(pack);
    }
    expect(new Set(members).size).toBe(members.length);
    // In member order, and in time order with the ids made one by one.
    expect([...members].sort()).toEqual(members);
    const [before, after] = [newDeliveryId(at - 1), newDeliveryId(at + 1)];
    expect([before, ...members, after].sort()).toEqual([before, ...members, after]);
    expect(() => packMemberId(pack, PACK_MEMBERS_MAX)).toThrow(RangeError);
  });

  it('random ids do not repeat', () => {
    const seen = new Set(Array.from({ length: 10_000 }, () => randomBase62(16)));
    expect(seen.size).toBe(10_000);
  });
});
