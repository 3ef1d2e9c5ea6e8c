import { describe, expect, it } from 'vitest';
import { startTestApi } from '../helpers/api.js';

const CAP = 60;
const api = await startTestApi('webhook-limits', { WEBHOOKS_MAX_WEBHOOKS_PER_WORKSPACE: String(CAP) });
const hook = { url: 'https://example.com/hooks', events: ['*'] };

const create = (key: string) => api.rest('POST', '/v1/webhooks', key, hook);
const createAtOnce = (key: string, count: number) => Promise.all(Array.from({ length: count }, () => create(key)));
const stored = async (key: string) => (await api.rest('GET', '/v1/webhooks?limit=500', key)).json.data as Array<{ id: string }>;

describe('the webhook cap of a workspace under concurrent creates', () => {
  it('lets exactly the free places through when 50 creates race at 5 below the cap', async () => {
    const key = await api.newKey();
    for (let i = 0; i < CAP - 5; i += 5) for (const res of await createAtOnce(key, 5)) expect(res.status).toBe(201);
    expect(await stored(key)).toHaveLength(CAP - 5);

    const results = await createAtOnce(key, 50);
    const created = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status !== 201);
    expect(await stored(key)).toHaveLength(CAP);
    expect(created).toHaveLength(5);
    expect(refused).toHaveLength(45);
    for (const res of refused) {
      expect(res.json.error.code).toBe('failed_precondition');
      expect(res.json.error.message).toBe(`this workspace already has the maximum of ${CAP} webhooks`);
    }

    // A delete frees its place, for one create only.
    expect((await api.rest('DELETE', `/v1/webhooks/${created[0]!.json.id}`, key)).status).toBe(200);
    const again = await createAtOnce(key, 10);
    expect(again.filter((r) => r.status === 201)).toHaveLength(1);
    expect(await stored(key)).toHaveLength(CAP);
  });

  it('holds from the first create of a new workspace: 100 at once leave exactly the cap', async () => {
    const key = await api.newKey();
    const results = await createAtOnce(key, 100);
    expect(await stored(key)).toHaveLength(CAP);
    expect(results.filter((r) => r.status === 201)).toHaveLength(CAP);
    expect(new Set(results.filter((r) => r.status !== 201).map((r) => r.json.error.code))).toEqual(new Set(['failed_precondition']));
  });
});
