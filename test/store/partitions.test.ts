import { describe, expect, it } from 'vitest';
import { newWebhookId } from '../../src/domain/ids.js';
import { fanOutPartOf, hourOf, SHARDS, shardOf, startOf } from '../../src/store/partitions.js';

describe('hourOf', () => {
  it('names the UTC hour of any time, whichever hour it named before', () => {
    const a = Date.UTC(2026, 11, 3, 21, 59, 59, 999);
    const b = Date.UTC(2026, 11, 3, 22, 0, 0, 0);
    const c = Date.UTC(1999, 0, 1, 0, 30);
    expect([hourOf(a), hourOf(b), hourOf(a), hourOf(c), hourOf(b)]).toEqual(['2026120321', '2026120322', '2026120321', '1999010100', '2026120322']);
    expect(startOf(hourOf(a))).toBe(Date.UTC(2026, 11, 3, 21));
  });
});

describe('fanOutPartOf', () => {
  it('puts about 5%, 10%, 20%, 40% and 25% of webhooks in parts 0 to 4, by their id alone and apart from their shard', () => {
    const ids = Array.from({ length: 20_000 }, () => newWebhookId());
    const share = (list: string[]) => [0, 1, 2, 3, 4].map((part) => list.filter((id) => fanOutPartOf(id) === part).length / list.length);
    const near = (shares: number[]) => shares.map((s, part) => Math.abs(s - [0.05, 0.1, 0.2, 0.4, 0.25][part]!) < 0.02);
    expect(near(share(ids))).toEqual([true, true, true, true, true]);
    // Names that differ only in their last characters spread the same way, in every shard.
    const serial = Array.from({ length: 20_000 }, (_, n) => `whk_${String(n).padStart(6, '0')}`);
    expect(near(share(serial))).toEqual([true, true, true, true, true]);
    for (let shard = 0; shard < SHARDS; shard++) expect(near(share(serial.filter((id) => shardOf(id) === shard)))).toEqual([true, true, true, true, true]);
  });
});
