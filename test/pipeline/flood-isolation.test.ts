import { describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../src/config/config.js';
import { startTestApi } from '../helpers/api.js';
import { startReceiver } from '../helpers/receiver.js';
import { seedWebhooks } from '../helpers/seed-webhooks.js';
import { settle } from '../helpers/wait.js';

/*
 * One workspace's fan-outs fill the dispatcher (every task slot of the process taken by its
 * tasks, thousands more in the deliveries topic ahead of anyone else's); another workspace's
 * events must still go out at once, not after that backlog. A small WEBHOOKS_MAX_IN_FLIGHT makes a
 * backlog of seconds from a few thousand deliveries.
 */
const api = await startTestApi('flood-isolation', { WEBHOOKS_MAX_IN_FLIGHT: '20' }, [...ALL_ROLES]);

describe('a workspace flooding the dispatcher', () => {
  it("does not hold back another workspace's deliveries behind its backlog", async () => {
    const [flooding, other] = [await api.newKey(), await api.newKey()];
    const [floodReceiver, otherReceiver] = [await startReceiver(), await startReceiver()];
    await seedWebhooks(api.db, (await api.keys.verify(flooding))!.workspace, 1_000, (n) => `${floodReceiver.url}/${n}`);
    expect((await api.rest('POST', '/v1/webhooks', other, { url: otherReceiver.url, events: ['*'] })).status).toBe(201);
    await settle(1_500);

    /** Publish to receipt of each of `count` events of the other workspace, one after the other. */
    const otherLatencies = async (count: number) => {
      const latencies: number[] = [];
      for (let i = 0; i < count; i++) {
        const before = otherReceiver.requests.length;
        const started = Date.now();
        expect((await api.rest('POST', '/v1/events', other, { type: 'email.received', data: { i } })).status).toBe(200);
        while (otherReceiver.requests.length === before) await settle(5);
        latencies.push(Date.now() - started);
        await settle(50);
      }
      return latencies;
    };
    await otherLatencies(3); // its webhook cached and its connections open, as before any flood

    for (let i = 0; i < 5; i++) expect((await api.rest('POST', '/v1/events', flooding, { type: 'email.received', data: { i } })).status).toBe(200);
    const beside = await otherLatencies(10);
    const floodReceived = floodReceiver.requests.length;
    // Before, two of the ten waited 1.4–4.7 s behind the flood; now at most 0.2–0.4 s here (two runs).
    expect(Math.max(...beside), `publish → receipt (ms): ${beside.join(', ')}`).toBeLessThan(1_500);
    // Sent while most of the flood still waited: the backlog was there to be jumped.
    expect(floodReceived, `the flood had ${floodReceived} of 5,000 received after the other workspace's 10`).toBeLessThan(4_000);
  }, 120_000);
});
