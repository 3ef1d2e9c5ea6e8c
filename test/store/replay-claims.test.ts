import { describe, expect, it } from 'vitest';
import { ReplayClaimStore } from '../../src/store/replay-claims.js';
import { useMongo } from '../helpers/servers.js';

const { db } = await useMongo('replay-claims');

describe('ReplayClaimStore', () => {
  it('lets one of 50 concurrent claims of an attempt through, and each attempt number once', async () => {
    const claims = new ReplayClaimStore(db);
    const won = await Promise.all(Array.from({ length: 50 }, () => claims.claim('dlv_a', 2)));
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(await claims.claim('dlv_a', 3)).toBe(true);
    expect(await claims.claim('dlv_b', 2)).toBe(true);
    await claims.release('dlv_a', 3);
    expect(await claims.claim('dlv_a', 3)).toBe(true);
  });

  it('gives a claim whose attempt never came to a later replay after 10 minutes', async () => {
    let now = Date.parse('2026-03-01T00:00:00Z');
    const claims = new ReplayClaimStore(db, () => new Date(now));
    expect(await claims.claim('dlv_stale', 2)).toBe(true);
    now += 9 * 60_000;
    expect(await claims.claim('dlv_stale', 2)).toBe(false);
    now += 2 * 60_000;
    const won = await Promise.all(Array.from({ length: 10 }, () => claims.claim('dlv_stale', 2)));
    expect(won.filter(Boolean)).toHaveLength(1);
    // Taken over, the claim is fresh again.
    expect(await claims.claim('dlv_stale', 2)).toBe(false);
  });

  it('lets exactly one of many contenders take each stale claim over', async () => {
    let now = Date.parse('2026-04-01T00:00:00Z');
    const claims = new ReplayClaimStore(db, () => new Date(now));
    const ids = Array.from({ length: 10 }, (_, i) => `dlv_race${i}`);
    for (const id of ids) expect(await claims.claim(id, 2)).toBe(true);
    now += 11 * 60_000;
    const won = await Promise.all(ids.flatMap((id) => Array.from({ length: 20 }, () => claims.claim(id, 2).then((ok) => (ok ? id : null)))));
    expect(won.filter(Boolean).sort()).toEqual([...ids].sort());
  });
});
