import { describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../src/config/config.js';
import { startTestApi } from '../helpers/api.js';
import { startReceiver, type Receiver, type Reply } from '../helpers/receiver.js';
import { settle, until } from '../helpers/wait.js';

// Retry-After of a 429 or 503 moves the next retry within [first step, this step]: with
// `1s,6s,6s`, a 6s step can come as early as 1 s after the failure and never later than 6 s.
const api = await startTestApi('retry-after', { WEBHOOKS_RETRY_SCHEDULE: '1s,6s,6s' }, [...ALL_ROLES]);
const key = await api.newKey();

async function webhookAnswering(replies: Reply[]): Promise<Receiver> {
  const receiver = await startReceiver((_request, index) => replies[index] ?? { status: 200 });
  const created = await api.rest('POST', '/v1/webhooks', key, { url: receiver.url, events: ['call.ended'] });
  expect(created.status).toBe(201);
  return receiver;
}

/** Seconds between one attempt's arrival and the next one's. */
const gaps = (receiver: Receiver) => receiver.requests.slice(1).map((r, i) => (r.at - receiver.requests[i]!.at) / 1000);

describe('Retry-After on 429 and 503', () => {
  it('shortens a step to what was asked, caps it at the step, and never goes below the first step', async () => {
    const inAnHour = new Date(Date.now() + 3_600_000).toUTCString();
    const asked = await webhookAnswering([
      { status: 503 }, // no header: the 1s step, the baseline
      { status: 503, headers: { 'retry-after': '2' } }, // 6s step shortened to 2 s
      { status: 429, headers: { 'retry-after': inAnHour } }, // an hour asked: capped at the 6s step
    ]);
    const floor = await webhookAnswering([
      { status: 503 },
      { status: 429, headers: { 'retry-after': '0' } }, // 0 asked: the first step, 1 s
      { status: 500, headers: { 'retry-after': '1' } }, // not a 429 or 503: the 6s step as scheduled
    ]);
    await settle(700); // the webhooks reach the matcher's cache
    expect((await api.rest('POST', '/v1/events', key, { type: 'call.ended', data: { call: 1 } })).status).toBeLessThan(300);
    await Promise.all([asked.waitFor(4, 60_000), floor.waitFor(4, 60_000)]);

    const [baseline, shortened, capped] = gaps(asked);
    const [baseline2, atFloor, unchanged] = gaps(floor);
    // What the service adds to any wait on this machine: the 1s step's overshoot.
    const overhead = Math.max(baseline! - 1, baseline2! - 1, 0.5);
    expect(shortened).toBeGreaterThanOrEqual(2 - 0.05);
    expect(shortened).toBeLessThan(2 + 2 * overhead + 1);
    expect(capped).toBeGreaterThanOrEqual(6 - 0.05);
    expect(capped).toBeLessThan(6 + 2 * overhead + 2);
    expect(atFloor).toBeGreaterThanOrEqual(1 - 0.05);
    expect(atFloor).toBeLessThan(unchanged! - 2);
    expect(unchanged).toBeGreaterThanOrEqual(6 - 0.05);

    // A receipt comes before its outcome is stored (outcome writes are batched): wait for it to show.
    const listed = () => api.rest('GET', `/v1/webhooks/${asked.requests[0]!.headers['x-humiris-webhook']}/deliveries`, key);
    const status = await until('the delivery shown succeeded', async () => {
      const s = (await listed()).json.data[0]?.status;
      return s === 'succeeded' ? s : undefined;
    }, 10_000).catch(async () => (await listed()).json.data[0]?.status);
    expect(status).toBe('succeeded');
  }, 90_000);
});
